// What reaches the server below HTTP: raw bytes on a real socket. Parser errors (malformed request
// lines, header floods, bad framing) must answer the standard error body, and clients too slow to
// send their headers are cut while others are served.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { loadConfig } from '../src/config.ts';
import { buildTestApp, DIALECT, type TestApp } from './helpers/app.ts';

interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** ms from the first byte sent to the socket's close. */
  closedAfterMs: number;
}

function parse(raw: string, closedAfterMs: number): RawResponse {
  const split = raw.indexOf('\r\n\r\n');
  const head = split === -1 ? raw : raw.slice(0, split);
  const body = split === -1 ? '' : raw.slice(split + 4);
  const [statusLine = '', ...lines] = head.split('\r\n');
  const headers: Record<string, string> = {};
  for (const l of lines) {
    const i = l.indexOf(':');
    if (i > 0) headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
  }
  return {
    status: Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1] ?? 0),
    headers,
    body,
    closedAfterMs,
  };
}

/** Writes the chunks (a function gets the socket to trickle), reads until the server closes. */
function rawExchange(
  port: number,
  send: string | Buffer | ((s: net.Socket) => void),
  timeoutMs = 20_000,
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const started = Date.now();
    const timer = setTimeout(() => {
      socket.destroy();
      reject(
        new Error(
          `no close within ${timeoutMs} ms; got ${Buffer.concat(chunks).toString('latin1').slice(0, 300)}`,
        ),
      );
    }, timeoutMs);
    socket.on('connect', () => {
      if (typeof send === 'function') send(socket);
      else socket.write(send);
    });
    socket.on('data', (d) => chunks.push(d));
    socket.on('error', () => {}); // a reset after the answer is fine; close follows
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(parse(Buffer.concat(chunks).toString('latin1'), Date.now() - started));
    });
  });
}

function assertStandardError(r: RawResponse, status: number, what: string): void {
  assert.equal(r.status, status, `${what}: ${r.status} ${r.body.slice(0, 200)}`);
  assert.match(r.headers['content-type'] ?? '', /^application\/json/, what);
  let body: { code?: unknown; message?: unknown; request_id?: unknown };
  try {
    body = JSON.parse(r.body) as typeof body;
  } catch {
    assert.fail(`${what}: body is not JSON: ${r.body.slice(0, 200)}`);
  }
  assert.equal(typeof body.code, 'string', what);
  assert.equal(typeof body.message, 'string', what);
  assert.equal(typeof body.request_id, 'string', what);
  assert.equal(r.headers['x-request-id'], body.request_id, `${what}: the header names the same request`);
}

describe(`HTTP parser errors over a real socket (${DIALECT})`, () => {
  let t: TestApp;
  let port: number;
  before(async () => {
    t = await buildTestApp();
    await t.app.listen({ port: 0, host: '127.0.0.1' });
    port = (t.app.server.address() as AddressInfo).port;
  });
  after(() => t.close());

  async function healthy(): Promise<void> {
    const res = await fetch(`http://127.0.0.1:${port}/readyz`);
    assert.equal(res.status, 200, 'the server still answers');
    await res.body?.cancel();
  }

  const H = 'Host: orgplane.test\r\n';
  const cases: Array<[string, string | Buffer, number]> = [
    ['garbage request line', 'GARBAGE\r\n\r\n', 400],
    ['unknown HTTP version', `GET / HTTP/9.9\r\n${H}\r\n`, 400],
    ['space in the path', `GET /a b HTTP/1.1\r\n${H}\r\n`, 400],
    ['control character in the path', `GET /a\x01b HTTP/1.1\r\n${H}\r\n`, 400],
    ['invalid method', `G@T / HTTP/1.1\r\n${H}\r\n`, 400],
    ['binary junk', Buffer.from([0x16, 0x03, 0x01, 0x00, 0xff, 0x00, 0x0d, 0x0a, 0x0d, 0x0a]), 400],
    ['header without a colon', `GET / HTTP/1.1\r\n${H}NoColonHere\r\n\r\n`, 400],
    ['space in a header name', `GET / HTTP/1.1\r\n${H}Bad Header: x\r\n\r\n`, 400],
    ['NUL in a header value', `GET / HTTP/1.1\r\n${H}X-A: a\x00b\r\n\r\n`, 400],
    ['bare LF line endings with obs-fold', `GET / HTTP/1.1\r\n${H}X-A: a\r\n b\r\n\r\n`, 400],
    [
      'non-numeric Content-Length',
      `POST /api/v2/organizations HTTP/1.1\r\n${H}Content-Type: application/json\r\nContent-Length: abc\r\n\r\n{}`,
      400,
    ],
    ['negative Content-Length', `POST /api/v2/organizations HTTP/1.1\r\n${H}Content-Length: -1\r\n\r\n`, 400],
    [
      'two different Content-Length headers',
      `POST /api/v2/organizations HTTP/1.1\r\n${H}Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}`,
      400,
    ],
    [
      'Content-Length and Transfer-Encoding together (request smuggling)',
      `POST /api/v2/organizations HTTP/1.1\r\n${H}Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
      400,
    ],
    [
      'unknown Transfer-Encoding',
      `POST /api/v2/organizations HTTP/1.1\r\n${H}Transfer-Encoding: gzip, identity\r\n\r\n`,
      400,
    ],
    [
      '10,000 headers',
      `GET /api/v2/users/me HTTP/1.1\r\n${H}${Array.from({ length: 10_000 }, (_, i) => `X-H${i}: v\r\n`).join('')}\r\n`,
      431,
    ],
    [
      'one 64 KiB header',
      `GET /api/v2/users/me HTTP/1.1\r\n${H}X-Big: ${'a'.repeat(64 * 1024)}\r\n\r\n`,
      431,
    ],
    ['a 64 KiB URL', `GET /${'a'.repeat(64 * 1024)} HTTP/1.1\r\n${H}\r\n`, 431],
  ];

  for (const [what, bytes, status] of cases) {
    test(`${what} → ${status} with the standard error body`, async () => {
      const r = await rawExchange(port, bytes);
      assertStandardError(r, status, what);
      await healthy();
    });
  }

  test('a malformed chunked body (after the headers were accepted) → 400 with the standard body', async () => {
    const r = await rawExchange(
      port,
      `POST /api/v2/organizations HTTP/1.1\r\n${H}Authorization: Bearer x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n`,
    );
    assert.ok(r.status >= 400 && r.status < 500, `${r.status} ${r.body}`);
    assertStandardError(r, r.status, 'bad chunk size');
    await healthy();
  });

  test('a pipelined bad request after a good one: the good one is answered, then the error', async () => {
    const r = await rawExchange(port, `GET /readyz HTTP/1.1\r\n${H}\r\nGARBAGE\r\n\r\n`);
    assert.equal(r.status, 200);
    assert.match(r.body, /HTTP\/1\.1 400/);
    await healthy();
  });
});

describe(`slow headers are cut (${DIALECT})`, () => {
  test('the default header timeout is 10 s and can be configured', () => {
    assert.equal(loadConfig({}).headersTimeoutMs, 10_000);
    assert.equal(loadConfig({ ORGPLANE_HEADERS_TIMEOUT_MS: '2000' }).headersTimeoutMs, 2000);
  });

  test('the server applies the configured value (default 10 s)', async () => {
    const t = await buildTestApp({ headersTimeoutMs: loadConfig({}).headersTimeoutMs });
    try {
      assert.equal(t.app.server.headersTimeout, 10_000);
    } finally {
      await t.close();
    }
  });

  /** Sends a request line and then a header line every second, never finishing the headers. */
  const trickler = (opened: net.Socket[], timers: NodeJS.Timeout[]) => (s: net.Socket) => {
    opened.push(s);
    s.write('GET /api/v2/users/me HTTP/1.1\r\nHost: orgplane.test\r\n');
    let i = 0;
    const timer = setInterval(() => {
      if (s.writable) s.write(`X-Slow-${i++}: 1\r\n`);
    }, 1000);
    timers.push(timer);
    s.on('close', () => clearInterval(timer));
  };

  test('while sockets trickle their headers, another client is served', async () => {
    // A timeout nobody reaches here: the slow sockets stay open until the test closes them, so
    // "served meanwhile" is an order of events, not a race against the cut.
    const t = await buildTestApp({ headersTimeoutMs: 600_000 });
    const timers: NodeJS.Timeout[] = [];
    const opened: net.Socket[] = [];
    try {
      await t.app.listen({ port: 0, host: '127.0.0.1' });
      const port = (t.app.server.address() as AddressInfo).port;
      let accepted = 0;
      const allAccepted = new Promise<void>((resolve) =>
        t.app.server.on('connection', () => ++accepted === 4 && resolve()),
      );
      const slow = Array.from({ length: 4 }, () => rawExchange(port, trickler(opened, timers), 600_000));
      await allAccepted;
      let closed = 0;
      for (const r of slow) void r.then(() => closed++);
      for (let i = 0; i < 5; i++) {
        const res = await fetch(`http://127.0.0.1:${port}/readyz`);
        assert.equal(res.status, 200);
        await res.body?.cancel();
      }
      assert.equal(closed, 0, 'the slow sockets were still open while the other client was served');
      for (const s of opened) s.destroy();
      await Promise.all(slow);
    } finally {
      for (const timer of timers) clearInterval(timer);
      for (const s of opened) s.destroy();
      await t.close();
    }
  });

  test('sockets trickling a header line every second are cut with 408, not before the timeout', async () => {
    const timeout = 2000;
    const t = await buildTestApp({ headersTimeoutMs: timeout });
    const timers: NodeJS.Timeout[] = [];
    const opened: net.Socket[] = [];
    try {
      await t.app.listen({ port: 0, host: '127.0.0.1' });
      const port = (t.app.server.address() as AddressInfo).port;
      // The clients never stop sending, so every close is the server's cut. How late after the
      // timeout it comes depends on the machine's load, so only the lower bound is asserted
      // (the clock starts on the client's side, before the server's; 100 ms for clock rounding); rawExchange's guard
      // catches a server that never cuts.
      const slow = Array.from({ length: 4 }, () => rawExchange(port, trickler(opened, timers), 120_000));
      for (const r of await Promise.all(slow)) {
        assert.ok(r.closedAfterMs >= timeout - 100, `closed too early: ${r.closedAfterMs} ms`);
        assertStandardError(r, 408, 'slow headers');
      }
    } finally {
      for (const timer of timers) clearInterval(timer);
      for (const s of opened) s.destroy();
      await t.close();
    }
  });
});
