// Security headers for every answer: helmet's policy, computed once at start instead of per
// request (@fastify/helmet builds helmet's middleware from its options on every request, a large
// share of a small read's cost). The values and names are exactly helmet's for these options
// (test/security-headers.test.ts compares them with @fastify/helmet's answer byte for byte). The API
// sends JSON only; the console's pages load their own scripts and styles; the join page sets a
// still narrower policy of its own.
import type { IncomingMessage, ServerResponse } from 'node:http';
import helmet, { type HelmetOptions } from 'helmet';

export const HELMET_OPTIONS: Readonly<HelmetOptions> = {
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

/** [name, value] pairs in helmet's order and spelling: helmet's middleware run once against a recorder. */
export function securityHeaderPairs(options: Readonly<HelmetOptions> = HELMET_OPTIONS): [string, string][] {
  const set = new Map<string, [string, string]>();
  const recorder = {
    setHeader(name: string, value: unknown) {
      set.set(name.toLowerCase(), [name, String(value)]);
      return recorder;
    },
    removeHeader(name: string) {
      set.delete(name.toLowerCase());
    },
  };
  let failed: unknown;
  helmet(options)({} as IncomingMessage, recorder as unknown as ServerResponse, (err?: unknown) => {
    failed = err;
  });
  if (failed) throw failed instanceof Error ? failed : new Error('helmet refused its options');
  return [...set.values()];
}

/** Sets the precomputed headers on the raw response, as helmet's middleware does. */
export function setSecurityHeaders(raw: ServerResponse, pairs: readonly [string, string][]): void {
  for (const [name, value] of pairs) raw.setHeader(name, value);
}
