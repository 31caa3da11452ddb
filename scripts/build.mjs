#!/usr/bin/env node
// The compiled build bin/orgplane.js runs: the sources bundled by esbuild into dist/bundle/ (one
// file per entry plus lazily loaded chunks: the server's code loads only for `serve`). Loading a
// few bundled files instead of ~2,000 module files (Fastify, Kysely, TypeBox…) is most of a fast
// start. Native and optional packages (better-sqlite3, pg, nodemailer, ioredis) and node-forge stay in
// node_modules; the code loads them with require when it needs them. Type checking is
// `npm run typecheck`, not this.
//   node scripts/build.mjs             build
//   node scripts/build.mjs --if-stale  build only when a source is newer than the build (the
//                                      prepare script: `npx orgplane` reruns it on first use)
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outdir = path.join(root, 'dist', 'bundle');
const entry = path.join(outdir, 'main.js');

function newestSourceMtime(dir) {
  let newest = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) newest = Math.max(newest, newestSourceMtime(p));
    else if (e.name.endsWith('.ts')) newest = Math.max(newest, fs.statSync(p).mtimeMs);
  }
  return newest;
}

function isFresh() {
  try {
    return fs.statSync(entry).mtimeMs >= newestSourceMtime(path.join(root, 'src'));
  } catch {
    return false;
  }
}

if (process.argv.includes('--if-stale') && isFresh()) process.exit(0);

const esbuild = await import('esbuild');
const tmp = `${outdir}.tmp-${process.pid}`;
fs.rmSync(tmp, { recursive: true, force: true });
await esbuild.build({
  absWorkingDir: root,
  entryPoints: { main: 'src/cli/main.ts' },
  outdir: tmp,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  sourcemap: true,
  minifyWhitespace: true,
  minifySyntax: true,
  external: ['better-sqlite3', 'pg', 'pg-native', 'nodemailer', 'ioredis', 'node-forge'],
  // CommonJS packages inside the bundle require Node's built-ins.
  banner: {
    js: "import { createRequire as __orgplaneRequire } from 'node:module'; const require = __orgplaneRequire(import.meta.url);",
  },
  logLevel: 'warning',
});
// Swapped in whole, so a server starting meanwhile never sees half a build.
fs.rmSync(outdir, { recursive: true, force: true });
fs.renameSync(tmp, outdir);
// Older builds (tsc's per-file output) would only confuse.
fs.rmSync(path.join(root, 'dist', 'src'), { recursive: true, force: true });
