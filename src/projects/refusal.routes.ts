// Neon operations orgplane does not serve: one route each that always answers 422 with the reason,
// the same for every caller (shared by the compute-on and compute-off route sets).
import type { FastifyInstance } from 'fastify';
import { AppError } from '../domain/errors.ts';
import { ErrorResponses } from '../http/common-schemas.ts';
import type { UnsupportedOperation } from './unsupported.ts';

export function refusalRoutes(
  app: FastifyInstance,
  ops: readonly UnsupportedOperation[],
  messageOf: (op: UnsupportedOperation) => string,
): void {
  for (const op of ops) {
    const message = messageOf(op);
    app.route({
      method: op.method,
      url: op.path.replace(/\{([a-z_]+)\}/g, ':$1'),
      // Answered 422 before anything is read or authorized: no change and no access decision to
      // record, and recording them would let any key write into any organization's chain.
      config: { audit: { none: `not supported (always 422, changes nothing): ${op.operationId}` } },
      schema: {
        operationId: op.operationId,
        tags: ['Not supported'],
        summary: `Not supported by orgplane: always 422 (${op.doing})`,
        response: ErrorResponses,
      },
      handler: async () => {
        throw new AppError('UNPROCESSABLE', message);
      },
    });
  }
}
