// Security headers for every answer, as helmet computes them. helmet's options are fixed, so its
// header set is computed once at start-up and sent as is (running helmet itself on each request
// re-parsed every option, a measurable share of a request's CPU). The API sends JSON only; the
// console's pages load their own scripts and styles; server-rendered pages with inline styles
// (the join page) set their own content-security-policy header after this one.
import helmet from 'helmet';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';

const OPTIONS: Parameters<typeof helmet>[0] = {
  contentSecurityPolicy: {
    useDefaults: false,
    directives: {
      defaultSrc: ["'self'"],
      scriptSrc: ["'self'"],
      styleSrc: ["'self'"],
      imgSrc: ["'self'", 'data:'],
      connectSrc: ["'self'"],
      baseUri: ["'none'"],
      formAction: ["'self'"],
      frameAncestors: ["'none'"],
      objectSrc: ["'none'"],
    },
  },
  frameguard: { action: 'deny' },
  // Setup and invitation links carry one-time tokens: never send them anywhere in a Referer.
  referrerPolicy: { policy: 'no-referrer' },
  crossOriginOpenerPolicy: { policy: 'same-origin' },
  // HSTS only makes sense behind TLS, which a reverse proxy terminates; it sets its own.
  strictTransportSecurity: false,
};

/** The headers helmet sets with OPTIONS, by lower-case name. */
export function securityHeaderSet(): Record<string, string> {
  const headers: Record<string, string> = {};
  const res = {
    setHeader(name: string, value: string | number | readonly string[]) {
      headers[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : String(value);
    },
    removeHeader(name: string) {
      delete headers[name.toLowerCase()];
    },
  };
  let failure: unknown;
  helmet(OPTIONS)({} as IncomingMessage, res as unknown as ServerResponse, (err?: unknown) => {
    failure = err;
  });
  if (failure !== undefined)
    throw failure instanceof Error ? failure : new Error('helmet refused its options');
  return headers;
}

export function securityHeaders(app: FastifyInstance): void {
  const headers = securityHeaderSet();
  app.addHook('onRequest', (_request, reply, done) => {
    reply.headers(headers);
    done();
  });
}
