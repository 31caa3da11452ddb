// JSON bodies: prototype keys are dropped (Fastify's secure parser), and a DELETE or GET sent with
// "Content-Type: application/json" and no body (as some HTTP clients do) is a request without a
// body, as on Neon; routes that take a body still refuse an empty one.
import type { FastifyInstance } from 'fastify';

export function jsonBodies(app: FastifyInstance): void {
  const parseJson = app.getDefaultJsonParser('remove', 'remove');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    if (body === '' && !req.routeOptions.schema?.body) {
      done(null, undefined);
      return;
    }
    void parseJson(req, body as string, done);
  });
}
