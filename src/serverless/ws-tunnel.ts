// The WebSocket tunnel (/v2) that @neondatabase/serverless's Pool and Client speak the PostgreSQL
// protocol through. As Neon's proxy does, orgplane ends the client's authentication itself and
// then joins the two byte streams:
//   1. the client's startup message (user, database) and, on request, its password in cleartext
//      (AuthenticationCleartextPassword: the WebSocket is the secure channel — wss:// in production;
//      the driver's default pipelineConnect "password" sends it unasked);
//   2. orgplane connects to the compute with node-postgres as that role with that password (TLS
//      verified against the local CA, SCRAM as PostgreSQL asks), so PostgreSQL decides;
//   3. the compute's ParameterStatus and BackendKeyData are replayed, then ReadyForQuery, and from
//      then on every byte passes through unchanged both ways (transactions, COPY, cancel keys).
// A CancelRequest (a new tunnel the driver opens for client.cancel) is forwarded to the compute.
// The server-side messages written here are the six fixed frames of the protocol's start-up; the
// authentication itself is node-postgres's and PostgreSQL's, not orgplane's.
import net from 'node:net';
import type { Duplex } from 'node:stream';
import type pg from 'pg';
import { pgDriver } from '../db/pg-driver.ts';
import type { WebSocket } from 'ws';
import { clientConfig, type Credentials } from './compute-pools.ts';
import {
  parseEndpointAddress,
  unknownEndpoint,
  type ComputeTarget,
  type EndpointResolver,
} from './resolver.ts';
import { toSqlError } from './sql.service.ts';

const SSL_REQUEST = 80877103;
const GSSENC_REQUEST = 80877104;
const CANCEL_REQUEST = 80877102;
const PROTOCOL_3 = 196608;
/** A start-up packet is small; anything larger is not PostgreSQL. */
const MAX_STARTUP_BYTES = 10_000;

export interface TunnelLimits {
  /** Concurrent tunnels (each holds one compute connection). Default 1000. */
  maxTunnels: number;
  /** Start-up and authentication must finish within this many ms. Default 15 s. */
  startupTimeoutMs: number;
  /** Bytes buffered towards a slow WebSocket client before the compute side is paused. Default 4 MiB. */
  highWaterBytes: number;
}

export const DEFAULT_TUNNEL_LIMITS: TunnelLimits = {
  maxTunnels: 1000,
  startupTimeoutMs: 15_000,
  highWaterBytes: 4 * 1024 * 1024,
};

// --- the server's start-up frames --------------------------------------------------------------
function frame(type: string, body: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head.write(type, 0, 'latin1');
  head.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([head, body]);
}
const int32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
};
const cstr = (s: string) => Buffer.concat([Buffer.from(s, 'utf8'), Buffer.from([0])]);
const authCleartext = () => frame('R', int32(3));
const authOk = () => frame('R', int32(0));
const parameterStatus = (k: string, v: string) => frame('S', Buffer.concat([cstr(k), cstr(v)]));
const backendKeyData = (pid: number, key: number) => frame('K', Buffer.concat([int32(pid), int32(key)]));
const readyForQuery = () => frame('Z', Buffer.from('I', 'latin1'));

/** ErrorResponse with PostgreSQL's field letters. */
export function errorResponse(fields: {
  severity: string;
  code: string;
  message: string;
  detail?: string | undefined;
  hint?: string | undefined;
}): Buffer {
  const parts = [
    Buffer.from('S'),
    cstr(fields.severity),
    Buffer.from('V'),
    cstr(fields.severity),
    Buffer.from('C'),
    cstr(fields.code),
    Buffer.from('M'),
    cstr(fields.message),
  ];
  if (fields.detail) parts.push(Buffer.from('D'), cstr(fields.detail));
  if (fields.hint) parts.push(Buffer.from('H'), cstr(fields.hint));
  parts.push(Buffer.from([0]));
  return frame('E', Buffer.concat(parts));
}

/** Reads the client's bytes as they arrive, in whatever pieces the WebSocket delivers them. */
class Inbox {
  private buf: Buffer = Buffer.alloc(0);
  push(chunk: Buffer): void {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
  }
  get size(): number {
    return this.buf.length;
  }
  /** An untyped start-up packet (length first), or null until it is complete. */
  takeStartup(): Buffer | null {
    if (this.buf.length < 4) return null;
    const len = this.buf.readInt32BE(0);
    if (len < 8 || len > MAX_STARTUP_BYTES) throw new Error('invalid start-up packet');
    if (this.buf.length < len) return null;
    const packet = this.buf.subarray(0, len);
    this.buf = this.buf.subarray(len);
    return packet;
  }
  /** A typed message, or null until it is complete. */
  takeMessage(): { type: string; body: Buffer } | null {
    if (this.buf.length < 5) return null;
    const len = this.buf.readInt32BE(1);
    if (len < 4 || len > MAX_STARTUP_BYTES) throw new Error('invalid message during authentication');
    if (this.buf.length < len + 1) return null;
    const msg = { type: String.fromCharCode(this.buf[0] ?? 0), body: this.buf.subarray(5, len + 1) };
    this.buf = this.buf.subarray(len + 1);
    return msg;
  }
  rest(): Buffer {
    const b = this.buf;
    this.buf = Buffer.alloc(0);
    return b;
  }
}

function startupParams(packet: Buffer): Map<string, string> {
  const params = new Map<string, string>();
  const items = packet.subarray(8).toString('utf8').split('\0');
  for (let i = 0; i + 1 < items.length; i += 2) {
    const k = items[i];
    const v = items[i + 1];
    if (k) params.set(k, v ?? '');
  }
  return params;
}

/** `host:port` from the tunnel URL's ?address= (what wsProxy builds), else the Host header. */
export function tunnelAddress(
  url: string,
  hostHeader: string | undefined,
): { hostname: string; port: string } | null {
  const q = new URL(url, 'http://x').searchParams.get('address');
  const raw = q ?? hostHeader;
  if (!raw) return null;
  const m = /^\[?([^\]]*?)\]?(?::(\d+))?$/.exec(raw);
  if (!m?.[1]) return null;
  return { hostname: m[1], port: m[2] ?? '' };
}

export class WsTunnels {
  private readonly open = new Set<WebSocket>();

  constructor(
    private readonly resolver: EndpointResolver,
    private readonly limits: TunnelLimits = DEFAULT_TUNNEL_LIMITS,
    private readonly log: { warn(obj: object, msg: string): void } = { warn: () => {} },
  ) {}

  get count(): number {
    return this.open.size;
  }

  /** Serves one accepted WebSocket. `address` is where the client asked to go. */
  serve(ws: WebSocket, address: { hostname: string; port: string } | null): void {
    const inbox = new Inbox();
    let state: 'startup' | 'password' | 'connecting' | 'joined' | 'closed' = 'startup';
    let params = new Map<string, string>();
    let backend: pg.Client | undefined;
    const fail = (fields: Parameters<typeof errorResponse>[0]) => {
      if (state === 'closed') return;
      state = 'closed';
      if (ws.readyState === ws.OPEN) ws.send(errorResponse(fields), () => ws.close());
    };
    if (this.open.size >= this.limits.maxTunnels) {
      fail({
        severity: 'FATAL',
        code: '53300',
        message: 'too many WebSocket connections to orgplane; retry shortly',
      });
      return;
    }
    this.open.add(ws);
    const timer = setTimeout(() => {
      if (state !== 'joined') fail({ severity: 'FATAL', code: '08006', message: 'authentication timed out' });
    }, this.limits.startupTimeoutMs);
    timer.unref();
    ws.on('close', () => {
      state = 'closed';
      clearTimeout(timer);
      this.open.delete(ws);
      if (backend) void backend.end().catch(() => {});
    });
    ws.on('error', () => ws.terminate());

    const resolve = async (): Promise<ComputeTarget> => {
      const a = address ? parseEndpointAddress(address.hostname, address.port) : null;
      if (!a) throw unknownEndpoint(null, address?.hostname ?? '(no address)');
      return this.resolver.resolve(a);
    };

    const step = (): void => {
      try {
        while (state === 'startup') {
          const packet = inbox.takeStartup();
          if (!packet) return;
          const code = packet.readInt32BE(4);
          if (code === SSL_REQUEST || code === GSSENC_REQUEST) {
            // Encryption is the WebSocket's (wss://); the driver's default forceDisablePgSSL agrees.
            ws.send(Buffer.from('N'));
            continue;
          }
          if (code === CANCEL_REQUEST) {
            state = 'closed';
            void this.forwardCancel(packet, resolve).finally(() => ws.close());
            return;
          }
          if (code !== PROTOCOL_3) {
            fail({ severity: 'FATAL', code: '0A000', message: 'unsupported frontend protocol' });
            return;
          }
          params = startupParams(packet);
          if (!params.get('user')) {
            fail({
              severity: 'FATAL',
              code: '28000',
              message: 'no PostgreSQL user name specified in startup packet',
            });
            return;
          }
          state = 'password';
          ws.send(authCleartext());
        }
        if (state === 'password') {
          const msg = inbox.takeMessage();
          if (!msg) return;
          if (msg.type !== 'p') {
            fail({
              severity: 'FATAL',
              code: '08P01',
              message: `expected a password message, got "${msg.type}"`,
            });
            return;
          }
          const password = msg.body.toString('utf8').replace(/\0$/, '');
          state = 'connecting';
          void this.join(ws, params, password, resolve, inbox, fail).then((c) => {
            backend = c;
            if (c) {
              state = state === 'closed' ? 'closed' : 'joined';
              if (state === 'closed') void c.end().catch(() => {});
            }
          });
        }
      } catch (err) {
        fail({
          severity: 'FATAL',
          code: '08P01',
          message: err instanceof Error ? err.message : 'protocol error',
        });
      }
    };

    ws.on('message', (data: Buffer | ArrayBuffer | Buffer[]) => {
      const chunk = Array.isArray(data)
        ? Buffer.concat(data)
        : Buffer.isBuffer(data)
          ? data
          : Buffer.from(data);
      if (state === 'joined' || state === 'closed') return; // joined: the pipe's own listener has it
      inbox.push(chunk);
      if (inbox.size > MAX_STARTUP_BYTES * 10 && state !== 'connecting') {
        fail({ severity: 'FATAL', code: '08P01', message: 'too much data before authentication' });
        return;
      }
      step();
    });
  }

  /** Authenticates to the compute as the client's role, then joins the streams. */
  private async join(
    ws: WebSocket,
    params: Map<string, string>,
    password: string,
    resolve: () => Promise<ComputeTarget>,
    inbox: Inbox,
    fail: (f: Parameters<typeof errorResponse>[0]) => void,
  ): Promise<pg.Client | undefined> {
    const user = params.get('user') ?? '';
    const creds: Credentials = {
      user,
      password,
      database: params.get('database') || user,
      applicationName: params.get('application_name'),
      options: params.get('options'),
    };
    let client: pg.Client | undefined;
    const statuses: Buffer[] = [];
    try {
      const target = await resolve();
      client = new (pgDriver().Client)(clientConfig(target, creds));
      client.on('error', () => {});
      client.connection.on('parameterStatus', (m: { parameterName: string; parameterValue: string }) => {
        statuses.push(parameterStatus(m.parameterName, m.parameterValue));
      });
      await client.connect();
    } catch (err) {
      void client?.end().catch(() => {});
      const e = toSqlError(err);
      fail({
        severity: e.fields.severity ?? 'FATAL',
        code:
          e.fields.code && /^[0-9A-Z]{5}$/.test(e.fields.code)
            ? e.fields.code
            : e.status === 404
              ? '08001'
              : '08006',
        message: e.message,
        detail: e.fields.detail,
        hint: e.fields.hint,
      });
      return undefined;
    }
    if (ws.readyState !== ws.OPEN) {
      void client.end().catch(() => {});
      return undefined;
    }
    const keyed = client as unknown as { processID: number | null; secretKey: number | null };
    ws.send(
      Buffer.concat([
        authOk(),
        ...statuses,
        backendKeyData(keyed.processID ?? 0, keyed.secretKey ?? 0),
        readyForQuery(),
      ]),
    );
    this.pipe(ws, client.connection.stream, inbox.rest());
    return client;
  }

  /** Every byte through, both ways, with backpressure on each side. */
  private pipe(ws: WebSocket, stream: Duplex, pending: Buffer): void {
    // node-postgres's parser lets go of the socket: from here the client's driver parses.
    stream.removeAllListeners('data');
    let queued = 0;
    stream.on('data', (chunk: Buffer) => {
      queued += chunk.length;
      if (queued > this.limits.highWaterBytes) stream.pause();
      ws.send(chunk, () => {
        queued -= chunk.length;
        if (queued <= this.limits.highWaterBytes && stream.isPaused()) stream.resume();
      });
    });
    stream.on('close', () => ws.close());
    ws.on('message', (data: Buffer | ArrayBuffer | Buffer[]) => {
      const chunk = Array.isArray(data)
        ? Buffer.concat(data)
        : Buffer.isBuffer(data)
          ? data
          : Buffer.from(data);
      if (!stream.write(chunk)) {
        ws.pause();
        stream.once('drain', () => ws.resume());
      }
    });
    ws.on('close', () => stream.destroy());
    if (pending.length > 0) stream.write(pending);
    if (stream.isPaused()) stream.resume();
  }

  private async forwardCancel(packet: Buffer, resolve: () => Promise<ComputeTarget>): Promise<void> {
    try {
      const target = await resolve();
      await new Promise<void>((done) => {
        const s = net.connect(target.port, target.host, () => s.end(packet));
        s.on('error', () => done());
        s.on('close', () => done());
        s.setTimeout(5000, () => s.destroy());
      });
    } catch (err) {
      this.log.warn({ err }, 'could not forward a cancel request');
    }
  }

  /** Closes every tunnel (server shutdown). */
  close(): void {
    for (const ws of this.open) ws.terminate();
    this.open.clear();
  }
}
