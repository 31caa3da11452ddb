// Test doubles for the engine (not used by the server): a timer tests advance by hand, so idle suspension is
// proved by counting, not by sleeping past wall-clock margins.
import type { ComputeTimer } from './runtime.ts';
import type { ComputeEngine, EndpointSpec } from './types.ts';

/** Opens an endpoint on a fresh port of the engine's, as the API side does; returns its spec. */
export async function openTestEndpoint(
  engine: ComputeEngine,
  endpointId: string,
  branchId: string,
  extra: Partial<EndpointSpec> = {},
): Promise<EndpointSpec> {
  const spec: EndpointSpec = {
    endpointId,
    branchId,
    port: await engine.allocatePort(),
    suspendTimeoutSeconds: 0,
    disabled: false,
    ...extra,
  };
  await engine.openEndpoint(spec);
  return spec;
}

interface Pending {
  fn: () => void;
  at: number;
}

export class ManualTimer implements ComputeTimer {
  private now = 0;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private waiters: (() => void)[] = [];

  set(fn: () => void, ms: number): unknown {
    const id = this.nextId++;
    this.pending.set(id, { fn, at: this.now + ms });
    for (const w of this.waiters.splice(0)) w();
    return id;
  }

  clear(handle: unknown): void {
    this.pending.delete(handle as number);
  }

  /** Timers armed and not yet fired or cleared, with their delays from now. */
  armed(): number[] {
    return [...this.pending.values()].map((p) => p.at - this.now);
  }

  /** Resolves once at least one timer is armed (a barrier, not a sleep). */
  async whenArmed(): Promise<void> {
    while (this.pending.size === 0) await new Promise<void>((r) => this.waiters.push(r));
  }

  /** Moves time forward and fires what falls due. */
  advance(ms: number): void {
    this.now += ms;
    for (const [id, p] of [...this.pending]) {
      if (p.at <= this.now) {
        this.pending.delete(id);
        p.fn();
      }
    }
  }
}
