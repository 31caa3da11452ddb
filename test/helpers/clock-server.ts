// The real server on a clock the test sets (key expiry, idempotency records, rate-limit windows in
// memory): a line "clock <ms>" on stdin holds it at that instant, "clock real" lets it run with the
// machine's again. Once it holds, the server says so on stderr (CLOCK_LINE + value), so a test moves
// time in every process before it asks them anything: a barrier, not a wait for the time to pass.
import readline from 'node:readline';
import { loadConfig } from '../../src/config.ts';
import { serve } from '../../src/main.ts';
import { CLOCK_LINE } from './servers.ts';

let frozen: number | null = null;
readline.createInterface({ input: process.stdin }).on('line', (line) => {
  const m = /^clock (\d+|real)$/.exec(line.trim());
  if (!m?.[1]) return;
  frozen = m[1] === 'real' ? null : Number(m[1]);
  process.stderr.write(`${CLOCK_LINE}${m[1]}\n`);
});

await serve(loadConfig(), undefined, { clock: () => frozen ?? Date.now() });
