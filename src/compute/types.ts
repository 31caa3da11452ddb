// What the API side needs of the compute engine (ComputeEngine) and the records it passes in; the
// runtime implements it. A file of its own so that engine.ts and runtime.ts do not import each other.
import type pg from 'pg';

export interface EndpointSpec {
  endpointId: string; // ep-…
  branchId: string; // br-…  (one data directory per branch)
  /** Stable loopback port the endpoint listens on (allocated via allocatePort(), stored by the API side). */
  port: number;
  /** Neon semantics: 0 = default (300 s here), -1 = never suspend. */
  suspendTimeoutSeconds: number;
  /** A disabled endpoint refuses connections with a clear error. */
  disabled: boolean;
}
export type ComputeState = 'idle' | 'active' | 'init'; // Neon's EndpointState values

export interface ComputeEngine {
  /** Takes the compute directory's lock (CONFLICT if another orgplane holds it), makes the local CA, removes
   *  half-made directories and stops postgres processes a killed orgplane left. Call at server start; every
   *  other method also calls it. Starts no compute. */
  init(): Promise<void>;
  /** Branch data. Create: from the template cluster when parentBranchId is undefined, else a consistent copy of
   *  the parent's CURRENT data taken without stopping the parent or cutting its sessions (pg_backup_start/stop
   *  around a copy). Idempotent by branchId: calling again after a crash finishes or redoes it. Atomic: a
   *  half-made directory is never visible under the branch's final path (build in a temp dir, rename). */
  createBranchData(branchId: string, parentBranchId?: string): Promise<void>;
  /** Replace a branch's data with a fresh consistent copy of source's current data (reset to parent, restore).
   *  Stops the branch's postgres first (sessions on THAT branch end, as on Neon); endpoints wake on next connect. */
  replaceBranchData(branchId: string, sourceBranchId: string): Promise<void>;
  /** Stops and removes. Idempotent. */
  deleteBranchData(branchId: string): Promise<void>;
  /** Branch ids that have a data directory (for crash reconciliation at start). */
  listBranchData(): Promise<string[]>;
  /** Runs fn as the cluster superuser over the branch's PRIVATE unix socket (never TCP), starting the branch's
   *  postgres if it is not running (and letting it suspend again later). Used for CREATE ROLE/DATABASE, ALTER
   *  ROLE … PASSWORD, DROP …, schema reads. `database` defaults to 'postgres'. */
  admin<T>(branchId: string, fn: (client: pg.Client) => Promise<T>, database?: string): Promise<T>;
  /** Schema-only dump of one database (getProjectBranchSchema / schema-diff), as pg_dump --schema-only prints it. */
  schemaDump(branchId: string, database: string): Promise<string>;

  /** A free loopback port for a new endpoint (the API side stores it). */
  allocatePort(): Promise<number>;
  /** Opens (or updates) the endpoint's public listener on 127.0.0.1:port. A connection to it starts the
   *  branch's postgres if suspended, then is joined byte-for-byte to it, so TLS, SCRAM-SHA-256-PLUS and the
   *  protocol are PostgreSQL's own. With ORGPLANE_ENDPOINT_MODE=direct the awake postgres listens on the port
   *  itself and orgplane only while it is suspended. Called at start-up for every endpoint. */
  openEndpoint(spec: EndpointSpec): Promise<void>;
  closeEndpoint(endpointId: string): Promise<void>;
  startEndpoint(endpointId: string): Promise<void>;
  /** Resolves once a connection to the endpoint's port will be served: in direct mode it starts a suspended
   *  compute and waits for it, so orgplane's own clients (/sql, /v2) never meet the wake's refusal window;
   *  in relay mode at once (the relay never refuses for timing). Never throws: the connection meets any refusal. */
  awake(endpointId: string): Promise<void>;
  suspendEndpoint(endpointId: string): Promise<void>;
  restartEndpoint(endpointId: string): Promise<void>;
  state(endpointId: string): ComputeState;
  /** The host Neon's clients put in connection strings (decided by the engine, e.g. `127.0.0.1:54321` or
   *  `localhost:54321`; neonctl builds `postgresql://${endpoint.host}` with `new URL`, and for --pooled replaces
   *  endpoint.id in host with `${id}-pooler`). */
  hostFor(spec: EndpointSpec): string;
  /** PEM of the local CA that signs every compute's certificate (for NODE_EXTRA_CA_CERTS) and its path. */
  caCertPath(): string;
  /** Stops every postgres and listener. */
  close(): Promise<void>;
}
