// Neon's SDK (axios) sends bodiless POSTs (…/recover, …/start, …/reset_password) as
// application/x-www-form-urlencoded with no content: the routes that take such calls accept exactly
// that; any form content is still refused.
import type { FastifyInstance } from 'fastify';
import { AppError } from '../domain/errors.ts';

export function acceptEmptyFormBody(app: FastifyInstance): void {
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => {
    if (body === '') done(null, undefined);
    else done(new AppError('UNSUPPORTED_MEDIA_TYPE', 'request body must be application/json'), undefined);
  });
}
