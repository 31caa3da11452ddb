// The real server, with every project transfer held open after its changes and before its commit,
// until the process is killed. It says so on stderr (PAUSED_LINE), so a crash test kills it exactly
// there: a barrier, not a guess at how long the transfer takes. (transfer-crash.test.ts waits for
// the same line.)
import { loadConfig } from '../../src/config.ts';
import { serve } from '../../src/main.ts';

const PAUSED_LINE = 'orgplane-test: transfer paused before commit';

await serve(loadConfig(), (services) => {
  services.transfers.beforeCommit = () => {
    process.stderr.write(`${PAUSED_LINE}\n`);
    return new Promise<void>(() => {});
  };
});
