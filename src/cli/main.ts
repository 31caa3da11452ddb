// The `orgplane` process: binds the in-process CLI (run.ts) to this process's streams and env.
// (stdin is not passed: no command reads it, and touching process.stdin can hold the process open.)
import { run } from './run.ts';

process.exitCode = await run(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
});
