// The OpenAPI document of the routes (GET /api/v2/openapi.json), built by @fastify/swagger.
import swagger from '@fastify/swagger';
import type { FastifyInstance } from 'fastify';

export async function openApiDocument(app: FastifyInstance, publicUrl: string): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'orgplane: Neon Organizations API (v2)',
        version: 'v2',
        description:
          "A self-hosted implementation of Neon's control-plane API v2 for organizations, API keys, members, invitations, projects and transfers.",
      },
      servers: [{ url: `${publicUrl}/api/v2` }],
      components: { securitySchemes: { BearerAuth: { type: 'http', scheme: 'bearer' } } },
      security: [{ BearerAuth: [] }],
    },
    refResolver: {
      buildLocalReference: (json, _baseUri, _fragment, i) =>
        typeof json.$id === 'string' ? json.$id : `def-${i}`,
    },
    transform: ({ schema, url }) => ({ schema, url: url.replace(/^\/api\/v2/, '') }),
  });
}

/** Serves the document inside the API's scope, without authentication. */
export function openApiRoute(api: FastifyInstance, root: FastifyInstance): void {
  api.get('/openapi.json', { config: { auth: false }, schema: { hide: true } }, async () => root.swagger());
}
