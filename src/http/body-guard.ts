// Rejects request bodies with text no database should store: NUL characters and lone UTF-16
// surrogates (PostgreSQL refuses the first; the second would be silently replaced).
// Walks iteratively so a deeply nested body cannot overflow the stack.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { hooksForRoutes } from './route-hooks.ts';
import { AppError } from '../domain/errors.ts';

// eslint-disable-next-line no-control-regex -- matching NUL is the point
const BAD_TEXT = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const MAX_DEPTH = 32;

export function findBadText(body: unknown): string | null {
  const stack: Array<{ v: unknown; path: string; depth: number }> = [{ v: body, path: 'body', depth: 0 }];
  while (stack.length > 0) {
    const item = stack.pop();
    if (!item) break;
    const { v, path, depth } = item;
    if (typeof v === 'string') {
      if (BAD_TEXT.test(v)) return `${path} contains a NUL character or invalid Unicode`;
    } else if (v && typeof v === 'object') {
      if (depth >= MAX_DEPTH) return `body is nested more than ${MAX_DEPTH} levels deep`;
      for (const [k, child] of Object.entries(v as Record<string, unknown>)) {
        if (BAD_TEXT.test(k)) return `${path} has a key with a NUL character or invalid Unicode`;
        stack.push({ v: child, path: Array.isArray(v) ? `${path}[${k}]` : `${path}.${k}`, depth: depth + 1 });
      }
    }
  }
  return null;
}

/** On the routes of this scope that can take a body (not GET or HEAD: Fastify parses none there). */
export function installBodyGuard(app: FastifyInstance): void {
  hooksForRoutes(app, (method) => method !== 'GET' && method !== 'HEAD', {
    preValidation: async (request: FastifyRequest) => {
      if (request.body === undefined || request.body === null) return;
      const problem = findBadText(request.body);
      if (problem) throw new AppError('BAD_REQUEST', `invalid request: ${problem}`);
    },
  });
}
