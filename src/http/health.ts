// Liveness (the process answers) and readiness (the database answers) for load balancers.
import type { FastifyInstance } from 'fastify';
import { ping, type Db } from '../db/connect.ts';

export function healthRoutes(app: FastifyInstance, db: Db): void {
  app.get('/healthz', { schema: { hide: true } }, async () => ({ status: 'ok' }));
  app.get('/readyz', { schema: { hide: true } }, async (_req, reply) => {
    try {
      await ping(db.kysely);
      return { status: 'ok' };
    } catch {
      reply.header('retry-after', '1');
      return reply.code(503).send({ status: 'database unavailable' });
    }
  });
}
