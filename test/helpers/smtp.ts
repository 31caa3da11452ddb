// A real SMTP server in-process (the smtp-server package) that records what arrives, plus the
// two ways a mail server fails: nothing listening (refused) and a server that never greets (hangs).
import net from 'node:net';
import { SMTPServer } from 'smtp-server';

export interface ReceivedMail {
  to: string[];
  raw: string;
  messageId: string;
  subject: string;
  /** The raw message with quoted-printable soft breaks and escapes undone: good enough to find links. */
  decoded: string;
}

export interface TestSmtp {
  port: number;
  received: ReceivedMail[];
  /** 'ok' accepts; 'reject' answers 550 to every message (a permanent refusal). */
  mode: 'ok' | 'reject';
  /** Connections accepted, and greetings sent (a held greeting is not sent until release()). */
  connections: number;
  greeted: number;
  /** A barrier: from now on no connection is greeted (the client waits) until release(). */
  hold(): void;
  release(): void;
  close(): Promise<void>;
}

function header(raw: string, name: string): string {
  const head = raw.split(/\r?\n\r?\n/, 1)[0] ?? '';
  const unfolded = head.replace(/\r?\n[ \t]+/g, ' ');
  const m = new RegExp(`^${name}:\\s*(.*)$`, 'im').exec(unfolded);
  return m?.[1]?.trim() ?? '';
}

export function decodeQuotedPrintable(s: string): string {
  return s
    .replace(/=\r?\n/g, '')
    .replace(/=([0-9A-F]{2})/g, (_m, h: string) => String.fromCharCode(Number.parseInt(h, 16)));
}

/** A free port on 127.0.0.1 with nothing listening on it (connections are refused). */
export { freePort } from './net.ts';

export async function startSmtp(port = 0): Promise<TestSmtp> {
  const received: ReceivedMail[] = [];
  let gate: { promise: Promise<void>; open: () => void } | null = null;
  const state: TestSmtp = {
    port: 0,
    received,
    mode: 'ok',
    connections: 0,
    greeted: 0,
    hold() {
      if (gate) return;
      let open = () => {};
      const promise = new Promise<void>((resolve) => (open = resolve));
      gate = { promise, open };
    },
    release() {
      gate?.open();
      gate = null;
    },
    close: async () => {},
  };
  const server = new SMTPServer({
    secure: false,
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    disableReverseLookup: true,
    logger: false,
    // smtp-server greets once this calls back: holding the callback holds the greeting.
    onConnect(_session, callback) {
      state.connections++;
      const greet = () => {
        state.greeted++;
        callback();
      };
      if (gate) void gate.promise.then(greet);
      else greet();
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        if (state.mode === 'reject') {
          const err = Object.assign(new Error('mailbox unavailable'), { responseCode: 550 });
          callback(err);
          return;
        }
        const raw = Buffer.concat(chunks).toString('utf8');
        received.push({
          to: session.envelope.rcptTo.map((r) => r.address),
          raw,
          messageId: header(raw, 'Message-ID'),
          subject: header(raw, 'Subject'),
          decoded: decodeQuotedPrintable(raw),
        });
        callback();
      });
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  state.port = (server.server.address() as net.AddressInfo).port;
  state.close = () => {
    state.release();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return state;
}

/** Accepts TCP connections and never says a word: the SMTP greeting never comes. */
export async function startHangingServer(port: number): Promise<{ close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const srv = net.createServer((s) => {
    sockets.add(s);
    s.on('error', () => {});
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(port, '127.0.0.1', () => resolve());
  });
  return {
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        srv.close(() => resolve());
      }),
  };
}

/** The first link to PUBLIC_URL's join page in a received mail. */
export function joinLinkIn(mail: ReceivedMail): string | undefined {
  return /https?:\/\/[^\s"<>]+\/invitations\/accept\?token=[A-Za-z0-9_-]+/.exec(mail.decoded)?.[0];
}

/**
 * Polls until cond holds. timeoutMs is a hang guard, not a margin: a loaded machine (two CPU hogs
 * beside the suite) must never reach it, so callers leave the generous default unless they prove
 * something about time.
 */
export async function waitFor(
  cond: () => Promise<boolean> | boolean,
  timeoutMs: number | undefined = 300_000,
  what = 'condition',
) {
  const end = Date.now() + (timeoutMs ?? 300_000);
  while (Date.now() < end) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
}
