// The compute engine: real PostgreSQL clusters, one data directory per branch, one postgres per running
// endpoint. The API side (branches, endpoints, roles, databases) calls it only through ComputeEngine,
// injected from services/app (no module-level state). See docs/compute.md.
import type { Config } from '../config.ts';
import { AppError } from '../domain/errors.ts';
import { ComputeRuntime, type ComputeEngineDeps } from './runtime.ts';

export type { ComputeEngineDeps, ComputeStep, ComputeTimer } from './runtime.ts';

export type { ComputeEngine, ComputeState, EndpointSpec } from './types.ts';
import type { ComputeEngine } from './types.ts';

/** The engine for this configuration. Nothing starts until a method needs it (init() takes the directory lock,
 *  makes the CA, cleans up after a crash); orgplane's own start-up stays fast. */
export function createComputeEngine(config: Config, deps: ComputeEngineDeps = {}): ComputeEngine {
  if (!config.compute.enabled) return disabledEngine();
  return new ComputeRuntime(config, deps);
}

/** ORGPLANE_COMPUTE=off: every compute operation answers one clear 4xx. */
function disabledEngine(): ComputeEngine {
  const off = (): never => {
    throw new AppError('UNPROCESSABLE', 'computes are turned off on this server (ORGPLANE_COMPUTE=off)');
  };
  return {
    init: async () => undefined,
    createBranchData: async () => off(),
    replaceBranchData: async () => off(),
    deleteBranchData: async () => off(),
    listBranchData: async () => [],
    admin: async () => off(),
    schemaDump: async () => off(),
    allocatePort: async () => off(),
    openEndpoint: async () => off(),
    closeEndpoint: async () => undefined,
    startEndpoint: async () => off(),
    awake: async () => undefined,
    suspendEndpoint: async () => off(),
    restartEndpoint: async () => off(),
    state: () => 'idle',
    hostFor: (spec) => `127.0.0.1:${spec.port}`,
    caCertPath: () => off(),
    close: async () => undefined,
  };
}
