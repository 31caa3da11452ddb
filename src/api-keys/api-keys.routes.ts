// Personal keys (/api_keys) and organization keys (/organizations/{org_id}/api_keys).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { Config } from '../config.ts';
import { auditOf } from '../audit/audit.hook.ts';
import { principalOf } from '../http/authenticate.ts';
import { ErrorResponses, OrgParamsSchema } from '../http/common-schemas.ts';
import type { ApiKeysService } from './api-keys.service.ts';
import {
  presentCreatedKey,
  presentKeyListItem,
  presentRevokedKey,
  presentRotatedKey,
} from './api-keys.presenter.ts';
import {
  ApiKeyCreateResponseSchema,
  ApiKeyCreateSchema,
  ApiKeyListItemSchema,
  ApiKeyRevokeResponseSchema,
  ApiKeyRotateResponseSchema,
  ApiKeyRotateSchema,
  KeyIdParamsSchema,
  OrgApiKeyCreateSchema,
  OrgApiKeyListItemSchema,
  OrgKeyIdParamsSchema,
} from './api-keys.schemas.ts';

/** Rotation takes an optional body: no body at all means the defaults. */
async function emptyBodyIsEmptyObject(req: FastifyRequest): Promise<void> {
  req.body ??= {};
}

export const apiKeysRoutes: FastifyPluginAsyncTypebox<{ apiKeys: ApiKeysService; config: Config }> = async (
  app,
  { apiKeys, config },
) => {
  // Creating (and rotating) organization keys has its own per-second budget, as on Neon.
  const orgKeyBudget: { rateLimit?: { max: number; timeWindow: number } } = config.rateLimit.enabled
    ? { rateLimit: { max: config.rateLimit.orgKeyCreatePerSecond, timeWindow: 1000 } }
    : {};
  app.get(
    '/api_keys',
    {
      schema: {
        operationId: 'listApiKeys',
        tags: ['API Key'],
        summary: "List the caller's personal API keys",
        response: { 200: Type.Array(ApiKeyListItemSchema), ...ErrorResponses },
      },
    },
    async (req) => (await apiKeys.listPersonal(principalOf(req))).map(presentKeyListItem),
  );

  app.post(
    '/api_keys',
    {
      config: { audit: 'api_key.created' },
      schema: {
        operationId: 'createApiKey',
        tags: ['API Key'],
        summary: 'Create a personal API key (the token is shown only in this response)',
        body: ApiKeyCreateSchema,
        response: { 200: ApiKeyCreateResponseSchema, ...ErrorResponses },
      },
    },
    async (req) => {
      const { key_name, ...opts } = req.body;
      return presentCreatedKey(await apiKeys.createPersonal(principalOf(req), key_name, opts, auditOf(req)));
    },
  );

  app.post(
    '/api_keys/:key_id/rotate',
    {
      config: { audit: 'api_key.rotated' },
      preValidation: emptyBodyIsEmptyObject,
      schema: {
        operationId: 'rotateApiKey',
        tags: ['API Key'],
        summary:
          'Replace a personal API key by a new one (orgplane extension); the old key works for overlap_seconds more',
        params: KeyIdParamsSchema,
        body: ApiKeyRotateSchema,
        response: { 200: ApiKeyRotateResponseSchema, ...ErrorResponses },
      },
    },
    async (req) =>
      presentRotatedKey(
        await apiKeys.rotatePersonal(principalOf(req), req.params.key_id, req.body, auditOf(req)),
      ),
  );

  app.delete(
    '/api_keys/:key_id',
    {
      config: { audit: 'api_key.revoked' },
      schema: {
        operationId: 'revokeApiKey',
        tags: ['API Key'],
        summary: 'Revoke a personal API key',
        params: KeyIdParamsSchema,
        response: { 200: ApiKeyRevokeResponseSchema, ...ErrorResponses },
      },
    },
    async (req) =>
      presentRevokedKey(await apiKeys.revokePersonal(principalOf(req), req.params.key_id, auditOf(req))),
  );

  app.get(
    '/organizations/:org_id/api_keys',
    {
      schema: {
        operationId: 'listOrgApiKeys',
        tags: ['Organizations'],
        summary: "List the organization's API keys (organization-wide and project-scoped)",
        params: OrgParamsSchema,
        response: { 200: Type.Array(OrgApiKeyListItemSchema), ...ErrorResponses },
      },
    },
    async (req) => (await apiKeys.listOrg(principalOf(req), req.params.org_id)).map(presentKeyListItem),
  );

  app.post(
    '/organizations/:org_id/api_keys',
    {
      config: { ...orgKeyBudget, audit: 'api_key.created' },
      schema: {
        operationId: 'createOrgApiKey',
        tags: ['Organizations'],
        summary:
          'Create an organization API key, or a project-scoped one with project_id (personal keys only)',
        params: OrgParamsSchema,
        body: OrgApiKeyCreateSchema,
        response: { 200: ApiKeyCreateResponseSchema, ...ErrorResponses },
      },
    },
    async (req) =>
      presentCreatedKey(await apiKeys.createOrg(principalOf(req), req.params.org_id, req.body, auditOf(req))),
  );

  app.post(
    '/organizations/:org_id/api_keys/:key_id/rotate',
    {
      config: { ...orgKeyBudget, audit: 'api_key.rotated' },
      preValidation: emptyBodyIsEmptyObject,
      schema: {
        operationId: 'rotateOrgApiKey',
        tags: ['Organizations'],
        summary:
          'Replace an organization or project-scoped API key by a new one (orgplane extension); the old key works for overlap_seconds more',
        params: OrgKeyIdParamsSchema,
        body: ApiKeyRotateSchema,
        response: { 200: ApiKeyRotateResponseSchema, ...ErrorResponses },
      },
    },
    async (req) =>
      presentRotatedKey(
        await apiKeys.rotateOrg(
          principalOf(req),
          req.params.org_id,
          req.params.key_id,
          req.body,
          auditOf(req),
        ),
      ),
  );

  app.delete(
    '/organizations/:org_id/api_keys/:key_id',
    {
      config: { audit: 'api_key.revoked' },
      schema: {
        operationId: 'revokeOrgApiKey',
        tags: ['Organizations'],
        summary: 'Revoke an organization or project-scoped API key',
        params: OrgKeyIdParamsSchema,
        response: { 200: ApiKeyRevokeResponseSchema, ...ErrorResponses },
      },
    },
    async (req) =>
      presentRevokedKey(
        await apiKeys.revokeOrg(principalOf(req), req.params.org_id, req.params.key_id, auditOf(req)),
      ),
  );
};
