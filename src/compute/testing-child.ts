// A separate orgplane-like process for tests (not used by the server): it opens the compute engine on a
// directory, creates a branch with a role, starts it, prints one JSON line, and then waits to be killed.
// Tests run it as an unprivileged user (the normal-user path) and SIGKILL it (the orphan path).
import { loadConfig } from '../config.ts';
import { ComputeRuntime } from './runtime.ts';

const [dataDir, branchId, password] = process.argv.slice(2);
if (!dataDir || !branchId || !password)
  throw new Error('usage: testing-child.ts <dataDir> <branchId> <password>');
const engine = new ComputeRuntime(
  loadConfig({ ORGPLANE_DATA_DIR: dataDir, ORGPLANE_ENDPOINT_MODE: process.env.ORGPLANE_ENDPOINT_MODE }),
);
await engine.createBranchData(branchId);
await engine.admin(branchId, async (c) => {
  await c.query(`CREATE ROLE app LOGIN PASSWORD '${password}'`);
  await c.query('CREATE TABLE public.marker AS SELECT current_user AS made_by');
  await c.query('GRANT SELECT ON public.marker TO app');
});
const port = await engine.allocatePort();
await engine.openEndpoint({
  endpointId: 'ep-child',
  branchId,
  port,
  suspendTimeoutSeconds: -1,
  disabled: false,
});
await engine.startEndpoint('ep-child');
console.log(
  JSON.stringify({
    pid: engine.runningPid(branchId),
    port,
    uid: process.getuid?.(),
    ca: engine.caCertPath(),
  }),
);
setInterval(() => undefined, 1 << 30);
