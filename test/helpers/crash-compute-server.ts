// The real server whose compute work stops at one named step until it is killed (crash tests of
// branch creation, reset and deletion). ORGPLANE_TEST_PAUSE_AT names the step: a point inside the
// engine's data operations (src/compute/runtime.ts ComputeStep) or `before:<method>` /
// `after:<method>` around an engine call the API makes. Once the server is serving, the first time
// work reaches that step the server says so on stderr (PAUSED_PREFIX + step) and holds there; a
// line "continue" on stdin lets it go on (for killing a compute instead of orgplane). A barrier,
// not a guess at how long the work takes.
import readline from 'node:readline';
import { loadConfig } from '../../src/config.ts';
import { createComputeEngine, type ComputeEngine } from '../../src/compute/engine.ts';
import { serve } from '../../src/main.ts';

export const PAUSED_PREFIX = 'orgplane-test: paused at ';
const WRAPPED = new Set([
  'createBranchData',
  'replaceBranchData',
  'deleteBranchData',
  'openEndpoint',
  'closeEndpoint',
]);

const pauseAt = process.env.ORGPLANE_TEST_PAUSE_AT ?? '';
let armed = false;
const waiting: (() => void)[] = [];
readline.createInterface({ input: process.stdin }).on('line', (line) => {
  if (line.trim() === 'continue') for (const go of waiting.splice(0)) go();
});

async function step(name: string): Promise<void> {
  if (!armed || name !== pauseAt) return;
  armed = false; // once: the repair a restart makes must not stop here too
  process.stderr.write(`${PAUSED_PREFIX}${name}\n`);
  await new Promise<void>((r) => waiting.push(r));
}

const config = loadConfig();
const runtime = createComputeEngine(config, { step });
const engine: ComputeEngine = new Proxy(runtime, {
  get(target, prop) {
    const value: unknown = Reflect.get(target, prop, target);
    if (typeof value !== 'function') return value;
    const fn = (value as (...a: unknown[]) => unknown).bind(target);
    if (!WRAPPED.has(String(prop))) return fn;
    return async (...args: unknown[]) => {
      await step(`before:${String(prop)}`);
      const out = await fn(...args);
      await step(`after:${String(prop)}`);
      return out;
    };
  },
});

await serve(config, undefined, { engine });
// Start-up repair has run: from here on, the API's work stops at the step.
armed = true;
process.stderr.write('orgplane-test: armed\n');
