#!/usr/bin/env node
// Runs the compiled build (dist/bundle/, made by `npm ci` through the prepare script,
// scripts/build.mjs) when it is newer than every source file; otherwise runs the TypeScript
// sources directly through tsx. The build starts several times faster and uses less memory; the
// fallback means an edit never runs stale code.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const compiled = path.join(root, 'dist', 'bundle', 'main.js');

function newestSourceMtime(dir) {
  let newest = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSourceMtime(p));
    else if (entry.name.endsWith('.ts')) newest = Math.max(newest, fs.statSync(p).mtimeMs);
  }
  return newest;
}

function buildIsFresh() {
  if (process.env.ORGPLANE_FROM_SOURCE === '1') return false;
  try {
    return fs.statSync(compiled).mtimeMs >= newestSourceMtime(path.join(root, 'src'));
  } catch {
    return false;
  }
}

if (buildIsFresh()) {
  await import(pathToFileURL(compiled).href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import(pathToFileURL(path.join(root, 'src', 'cli', 'main.ts')).href);
}
