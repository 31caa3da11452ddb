// The limit: a bare node:http server answering the exact bytes orgplane answers (same status, same
// headers — security headers and request ids included — same body), with no authentication, no
// database and no framework.
// BARE_ROUTES = JSON {METHOD: {status, contentType, body(base64), headers?}}; "*" answers any other method.
import http from 'node:http';

interface Route {
  status: number;
  contentType: string;
  body: string;
  headers?: Record<string, string>;
}

const routes = JSON.parse(process.env.BARE_ROUTES ?? '{}') as Record<string, Route>;
const prepared = new Map<
  string,
  { status: number; headers: Record<string, string | number>; body: Buffer }
>();
for (const [method, r] of Object.entries(routes)) {
  const body = Buffer.from(r.body, 'base64');
  prepared.set(method, {
    status: r.status,
    // Same header set orgplane sends, so the bytes on the wire match too (the ids are 32 hex chars there).
    headers: {
      ...r.headers,
      'content-type': r.contentType,
      'content-length': body.length,
      'x-request-id': '0123456789abcdef0123456789abcdef',
      'x-neon-ret-request-id': '0123456789abcdef0123456789abcdef',
    },
    body,
  });
}

const server = http.createServer((req, res) => {
  const r = prepared.get(req.method ?? 'GET') ?? prepared.get('*');
  // Drain any request body before answering, as a real server must.
  req.resume();
  req.on('end', () => {
    if (!r) {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
      return;
    }
    res.writeHead(r.status, r.headers).end(r.body);
  });
});
server.keepAliveTimeout = 5000;
server.listen(Number(process.env.PORT), process.env.HOST || '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
