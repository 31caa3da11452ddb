// Organization members: list, read, change role, remove; plus the seed's PATCH /organizations/members/{member_id}.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { auditOf } from '../audit/audit.hook.ts';
import { principalOf } from '../http/authenticate.ts';
import { EmptyResponseSchema, ErrorResponses, OrgParamsSchema } from '../http/common-schemas.ts';
import type { MembersService } from './members.service.ts';
import { presentMember, presentMemberWithUser } from './members.presenter.ts';
import {
  MemberOnlyParamsSchema,
  MemberParamsSchema,
  MembersListQuerySchema,
  MembersListResponseSchema,
  MemberUpdateSchema,
} from './members.schemas.ts';

export const membersRoutes: FastifyPluginAsyncTypebox<{ members: MembersService }> = async (
  app,
  { members },
) => {
  app.get(
    '/organizations/:org_id/members',
    {
      schema: {
        operationId: 'getOrganizationMembers',
        tags: ['Organizations'],
        summary: 'Retrieve organization members (cursor-paginated)',
        params: OrgParamsSchema,
        querystring: MembersListQuerySchema,
        response: { 200: MembersListResponseSchema, ...ErrorResponses },
      },
    },
    async (req) => {
      const page = await members.list(principalOf(req), req.params.org_id, req.query);
      return {
        members: page.members.map(presentMemberWithUser),
        pagination: {
          ...(page.next ? { next: page.next } : {}),
          sort_by: page.sortBy,
          sort_order: page.sortOrder,
        },
      };
    },
  );

  app.get(
    '/organizations/:org_id/members/:member_id',
    {
      schema: {
        operationId: 'getOrganizationMember',
        tags: ['Organizations'],
        summary: 'Retrieve organization member details',
        params: MemberParamsSchema,
        response: { 200: Type.Ref('Member'), ...ErrorResponses },
      },
    },
    async (req) =>
      presentMember(await members.get(principalOf(req), req.params.org_id, req.params.member_id)),
  );

  app.patch(
    '/organizations/:org_id/members/:member_id',
    {
      config: { audit: 'member.role_changed' },
      schema: {
        operationId: 'updateOrganizationMember',
        tags: ['Organizations'],
        summary: "Update a member's role (admins and organization keys; never the only admin)",
        params: MemberParamsSchema,
        body: MemberUpdateSchema,
        response: { 200: Type.Ref('Member'), ...ErrorResponses },
      },
    },
    async (req) =>
      presentMember(
        await members.updateRole(
          principalOf(req),
          req.params.org_id,
          req.params.member_id,
          req.body.role,
          auditOf(req),
        ),
      ),
  );

  app.patch(
    '/organizations/members/:member_id',
    {
      config: { audit: 'member.role_changed' },
      schema: {
        operationId: 'updateOrganizationMemberByMemberId',
        tags: ['Organizations'],
        summary: "Update a member's role; the organization comes from the member (the path in Neon's docs)",
        params: MemberOnlyParamsSchema,
        body: MemberUpdateSchema,
        response: { 200: Type.Ref('Member'), ...ErrorResponses },
      },
    },
    async (req) =>
      presentMember(
        await members.updateRoleByMemberId(
          principalOf(req),
          req.params.member_id,
          req.body.role,
          auditOf(req),
        ),
      ),
  );

  app.delete(
    '/organizations/:org_id/members/:member_id',
    {
      config: { audit: 'member.removed' },
      schema: {
        operationId: 'removeOrganizationMember',
        tags: ['Organizations'],
        summary: 'Remove a member (admins with a personal key; never the only admin)',
        params: MemberParamsSchema,
        response: { 200: EmptyResponseSchema, ...ErrorResponses },
      },
    },
    async (req) => {
      await members.remove(principalOf(req), req.params.org_id, req.params.member_id, auditOf(req));
      return {};
    },
  );
};
