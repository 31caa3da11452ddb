// Invitations: Neon's list and create, the seed's key-scoped list, and orgplane's revoke and resend.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { auditOf } from '../audit/audit.hook.ts';
import { principalOf } from '../http/authenticate.ts';
import { ErrorResponses, OrgParamsSchema } from '../http/common-schemas.ts';
import type { InvitationsService } from './invitations.service.ts';
import type { FastifyReply } from 'fastify';
import { presentInvitation } from './invitations.presenter.ts';
import { InvitationRateLimited } from './invitations.service.ts';
import {
  InvitationParamsSchema,
  InvitationsCreateSchema,
  InvitationsListQuerySchema,
  InvitationsResponseSchema,
} from './invitations.schemas.ts';

export const invitationsRoutes: FastifyPluginAsyncTypebox<{ invitations: InvitationsService }> = async (
  app,
  { invitations },
) => {
  /** The hourly invitation budget: tell clients when it has room again. */
  const withRetryAfter = async <T>(reply: FastifyReply, fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof InvitationRateLimited) reply.header('retry-after', String(err.retryAfterSeconds));
      throw err;
    }
  };

  const present = (rows: Parameters<typeof presentInvitation>[0][]) => {
    const now = new Date().toISOString();
    return { invitations: rows.map((r) => presentInvitation(r, now)) };
  };

  app.get(
    '/organizations/:org_id/invitations',
    {
      schema: {
        operationId: 'getOrganizationInvitations',
        tags: ['Organizations'],
        summary:
          'List pending and accepted invitations (include_inactive=true adds revoked and expired ones)',
        params: OrgParamsSchema,
        querystring: InvitationsListQuerySchema,
        response: { 200: InvitationsResponseSchema, ...ErrorResponses },
      },
    },
    async (req) =>
      present(
        await invitations.list(principalOf(req), req.params.org_id, req.query.include_inactive ?? false),
      ),
  );

  app.get(
    '/organizations/invitations',
    {
      schema: {
        operationId: 'getOrganizationInvitationsForKey',
        tags: ['Organizations'],
        summary: "List the invitations of the organization API key's organization (the path in Neon's docs)",
        querystring: InvitationsListQuerySchema,
        response: { 200: InvitationsResponseSchema, ...ErrorResponses },
      },
    },
    async (req) =>
      present(await invitations.listForKey(principalOf(req), req.query.include_inactive ?? false)),
  );

  app.post(
    '/organizations/:org_id/invitations',
    {
      config: { audit: 'invitation.created' },
      schema: {
        operationId: 'createOrganizationInvitations',
        tags: ['Organizations'],
        summary:
          'Invite up to 100 people by email (admins with a personal key); existing accounts join at once',
        params: OrgParamsSchema,
        body: InvitationsCreateSchema,
        response: { 200: InvitationsResponseSchema, ...ErrorResponses },
      },
    },
    async (req, reply) =>
      present(
        await withRetryAfter(reply, () =>
          invitations.create(principalOf(req), req.params.org_id, req.body.invitations, auditOf(req)),
        ),
      ),
  );

  app.delete(
    '/organizations/:org_id/invitations/:invitation_id',
    {
      config: { audit: 'invitation.revoked' },
      schema: {
        operationId: 'revokeOrganizationInvitation',
        tags: ['Organizations'],
        summary: 'Revoke a pending invitation (orgplane extension)',
        params: InvitationParamsSchema,
        response: { 200: Type.Ref('Invitation'), ...ErrorResponses },
      },
    },
    async (req) =>
      presentInvitation(
        await invitations.revoke(principalOf(req), req.params.org_id, req.params.invitation_id, auditOf(req)),
      ),
  );

  app.post(
    '/organizations/:org_id/invitations/:invitation_id/resend',
    {
      config: { audit: 'invitation.resent' },
      schema: {
        operationId: 'resendOrganizationInvitation',
        tags: ['Organizations'],
        summary: 'Send a pending or expired invitation again with a new link and expiry (orgplane extension)',
        params: InvitationParamsSchema,
        response: { 200: Type.Ref('Invitation'), ...ErrorResponses },
      },
    },
    async (req, reply) =>
      presentInvitation(
        await withRetryAfter(reply, () =>
          invitations.resend(principalOf(req), req.params.org_id, req.params.invitation_id, auditOf(req)),
        ),
      ),
  );
};
