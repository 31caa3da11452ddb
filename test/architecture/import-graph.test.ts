// The folders of src/ import one way: the folder graph, built from the import statements
// themselves, has no cycle, and db/, domain/, policy/ import nothing above them.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';

const src = path.resolve(import.meta.dirname, '../../src');

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return p.includes(`${path.sep}console${path.sep}public`) ? [] : sourceFiles(p);
    return e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') ? [p] : [];
  });
}

// The top-level folder of a file under src/; src/config.ts is a node of its own (read by every
// layer), the other files at the top (app, routes, services, main) are the top ('.').
function folderOf(file: string): string {
  const rel = path.relative(src, file).split(path.sep);
  if (rel.length > 1) return rel[0] ?? '.';
  return rel[0] === 'config.ts' ? 'config' : '.';
}

export function folderGraph(): Map<string, Set<string>> {
  const graph = new Map<string, Set<string>>();
  const importRe = /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s+['"](\.{1,2}\/[^'"]+)['"]/g;
  for (const file of sourceFiles(src)) {
    const from = folderOf(file);
    const edges = graph.get(from) ?? new Set<string>();
    graph.set(from, edges);
    for (const m of fs.readFileSync(file, 'utf8').matchAll(importRe)) {
      const target = path.resolve(path.dirname(file), m[1] ?? '');
      if (!target.startsWith(src + path.sep)) continue;
      const to = folderOf(target);
      if (to !== from) edges.add(to);
    }
  }
  return graph;
}

function findCycle(graph: Map<string, Set<string>>): string[] | null {
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (node: string): string[] | null => {
    if (state.get(node) === 'done') return null;
    if (state.get(node) === 'open') return [...stack.slice(stack.indexOf(node)), node];
    state.set(node, 'open');
    stack.push(node);
    for (const next of graph.get(node) ?? []) {
      const cycle = visit(next);
      if (cycle) return cycle;
    }
    stack.pop();
    state.set(node, 'done');
    return null;
  };
  for (const node of graph.keys()) {
    const cycle = visit(node);
    if (cycle) return cycle;
  }
  return null;
}

test('the cycle finder finds a loop it is given', () => {
  const g = new Map([
    ['a', new Set(['b'])],
    ['b', new Set(['c'])],
    ['c', new Set(['a'])],
  ]);
  assert.deepEqual(findCycle(g), ['a', 'b', 'c', 'a']);
});

/** Folders that import each other in a loop (strongly connected components of more than one). */
function loops(graph: Map<string, Set<string>>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const connect = (v: string): void => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        connect(w);
        low.set(v, Math.min(low.get(v) ?? 0, low.get(w) ?? 0));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v) ?? 0, index.get(w) ?? 0));
    }
    if (low.get(v) !== index.get(v)) return;
    const component: string[] = [];
    for (let w = stack.pop(); w !== undefined; w = stack.pop()) {
      onStack.delete(w);
      component.push(w);
      if (w === v) break;
    }
    if (component.length > 1) found.push(component.sort());
  };
  for (const v of graph.keys()) if (!index.has(v)) connect(v);
  return found;
}

// The layers (top files, the features as one block, http, auth, config, db, domain, policy) import
// one way: collapse every feature folder into one node and no loop remains.
const LAYERS = new Set(['.', 'http', 'auth', 'audit', 'mail', 'config', 'db', 'domain', 'policy', 'cli']);
test('no import loop between layers (features taken as one block)', () => {
  const collapsed = new Map<string, Set<string>>();
  const node = (f: string): string => (LAYERS.has(f) ? f : 'features');
  for (const [from, tos] of folderGraph()) {
    const edges = collapsed.get(node(from)) ?? new Set<string>();
    collapsed.set(node(from), edges);
    for (const to of tos) if (node(to) !== node(from)) edges.add(node(to));
  }
  assert.ok(collapsed.size > 5, 'the graph was built from the sources');
  assert.equal(findCycle(collapsed)?.join(' -> ') ?? null, null);
});

// Among features too: a feature builds on the ones below it (organizations on members, projects and
// users; sharing on projects and invitations; branches on operations and projects ...), never back.
// Shared rows every feature touches (the organization lock) live in db/; what a lower feature needs
// of a higher one (projects of their branches) is a port the composition root wires in.
test('no folder-level import loop in src/', () => {
  const found = loops(folderGraph());
  assert.deepEqual(found, [], `folders in an import loop: ${JSON.stringify(found)}`);
});

test('the loop finder finds a loop of folders it is given', () => {
  const g = new Map([
    ['a', new Set(['b'])],
    ['b', new Set(['a', 'c'])],
    ['c', new Set<string>()],
  ]);
  assert.deepEqual(loops(g), [['a', 'b']]);
});

test('db/, domain/ and policy/ import nothing above them', () => {
  const graph = folderGraph();
  const allowed: Record<string, string[]> = { db: ['domain'], domain: [], policy: ['domain', 'db'] };
  for (const [folder, may] of Object.entries(allowed)) {
    const bad = [...(graph.get(folder) ?? [])].filter((to) => !may.includes(to));
    assert.deepEqual(bad, [], `${folder}/ imports ${bad.join(', ')}`);
  }
});
