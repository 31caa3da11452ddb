// The real server, with every project transfer held open for TRANSFER_PAUSE_MS after its changes
// and before its commit: crash tests kill it there.
import { loadConfig } from '../../src/config.ts';
import { serve } from '../../src/main.ts';

const pauseMs = Number(process.env.TRANSFER_PAUSE_MS ?? '0');
await serve(loadConfig(), (services) => {
  services.transfers.beforeCommit = () => new Promise((r) => setTimeout(r, pauseMs));
});
