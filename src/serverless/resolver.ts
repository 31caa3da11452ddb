// Which compute a serverless request talks to. The connection string's host decides it (never a
// header or a body field), exactly as Neon's proxy reads the endpoint id from the host name:
//   ep-cool-rain-123456.us-east-2.aws.neon.tech   → ep-cool-rain-123456
//   ep-cool-rain-123456-pooler.<anything>         → ep-cool-rain-123456 (pooled)
//   127.0.0.1:54321 / localhost:54321              → the endpoint listening on that loopback port
// The password is then checked by PostgreSQL itself, so the host only chooses where to knock.
import { AppError } from '../domain/errors.ts';
import type { EndpointForConnection } from './serverless.repository.ts';

/** Where and how to reach a compute, as any PostgreSQL client would. */
export interface ComputeTarget {
  endpointId: string;
  host: string;
  port: number;
  /** PEM of the CA that signs the compute's certificate; undefined: the compute takes no TLS (tests). */
  ca?: string | undefined;
}

/** What a connection string's host names. */
export interface EndpointAddress {
  /** ep-… (without -pooler), when the host's first label is one. */
  endpointId?: string | undefined;
  /** The port, when the host is a loopback address (the endpoint's own listener). */
  port?: number | undefined;
  pooled: boolean;
  /** The host as given, for messages. */
  host: string;
}

/**
 * Finds the endpoint a request names and makes its compute reachable (a suspended endpoint is
 * woken by the connection itself). Throws AppError NOT_FOUND for unknown endpoints.
 */
export interface EndpointResolver {
  resolve(address: EndpointAddress): Promise<ComputeTarget>;
}

const ENDPOINT_LABEL = /^(ep-[a-z0-9-]+?)(-pooler)?$/;
const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

/** Reads a host (and port) the way Neon's proxy does; null when it names no endpoint at all. */
export function parseEndpointAddress(
  hostname: string,
  port: string | number | undefined,
): EndpointAddress | null {
  const host = hostname.toLowerCase();
  const label = host.split('.')[0] ?? '';
  const m = ENDPOINT_LABEL.exec(label);
  const p = port === undefined || port === '' ? undefined : Number(port);
  const portNumber = p !== undefined && Number.isInteger(p) && p > 0 && p < 65536 ? p : undefined;
  const shown = portNumber !== undefined ? `${hostname}:${portNumber}` : hostname;
  if (m?.[1]) return { endpointId: m[1], pooled: m[2] !== undefined, port: portNumber, host: shown };
  if (LOOPBACK.has(host) && portNumber !== undefined) return { port: portNumber, pooled: false, host: shown };
  return null;
}

export function unknownEndpoint(address: EndpointAddress | null, host: string): AppError {
  const what = address?.endpointId ?? host;
  return new AppError(
    'NOT_FOUND',
    `endpoint ${what} not found: the connection string's host names no endpoint of this server`,
  );
}

/** A fixed table of endpoints (tests, and servers whose computes live elsewhere). */
export class StaticEndpointResolver implements EndpointResolver {
  constructor(private readonly targets: ReadonlyMap<string, Omit<ComputeTarget, 'endpointId'>>) {}

  async resolve(address: EndpointAddress): Promise<ComputeTarget> {
    if (address.endpointId !== undefined) {
      const t = this.targets.get(address.endpointId);
      if (t) return { ...t, endpointId: address.endpointId };
    } else if (address.port !== undefined) {
      for (const [endpointId, t] of this.targets) if (t.port === address.port) return { ...t, endpointId };
    }
    throw unknownEndpoint(address, address.host);
  }
}

/** No computes on this server (ORGPLANE_COMPUTE=off, or computes not built): one clear refusal. */
export class NoComputeResolver implements EndpointResolver {
  async resolve(address: EndpointAddress): Promise<ComputeTarget> {
    throw new AppError(
      'NOT_FOUND',
      `endpoint ${address.endpointId ?? address.host} has no compute on this server (computes are off)`,
    );
  }
}

/**
 * The endpoints orgplane's compute engine serves: the record (by id, or by its loopback port) gives
 * the port whose listener wakes a suspended compute on connect (with direct endpoints, awake() starts
 * it first: the compute then listens there itself); certificates are checked against the engine's
 * local CA. Deleted projects' and disabled endpoints are refused here, before any connection.
 */
export class RecordsEndpointResolver implements EndpointResolver {
  constructor(
    private readonly find: (
      by: { id: string } | { port: number },
    ) => Promise<EndpointForConnection | undefined>,
    private readonly caPem: () => Promise<string>,
    /** Waits until a connection to the endpoint's port will be served (the engine's awake()). */
    private readonly awake: (endpointId: string) => Promise<void> = () => Promise.resolve(),
  ) {}

  async resolve(address: EndpointAddress): Promise<ComputeTarget> {
    const by =
      address.endpointId !== undefined
        ? { id: address.endpointId }
        : address.port !== undefined
          ? { port: address.port }
          : null;
    const row = by ? await this.find(by) : undefined;
    if (!row || row.project_deleted_at !== null || row.port === null)
      throw unknownEndpoint(address, address.host);
    if (row.disabled === 1)
      throw new AppError('LOCKED', `endpoint ${row.id} is disabled: it refuses connections`);
    const [ca] = await Promise.all([this.caPem(), this.awake(row.id)]);
    return { endpointId: row.id, host: '127.0.0.1', port: row.port, ca };
  }
}
