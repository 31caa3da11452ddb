// POST /projects/{project_id}/transfer_requests and PUT …/{request_id}: Neon's project transfer
// requests. The claim page for the console lives at /transfer-requests/{request_id} (console routes).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { Config } from '../config.ts';
import { AppError } from '../domain/errors.ts';
import { toWireTime } from '../domain/time.ts';
import { principalOf } from '../http/authenticate.ts';
import { ErrorResponses, NeonIdSchema, TimestampSchema, UuidSchema } from '../http/common-schemas.ts';
import type { TransferRequestsService } from './transfer-requests.service.ts';
import { auditOf } from '../audit/audit.hook.ts';

const CreateBodySchema = Type.Object({
  // Neon sets no bounds; one second to one year keeps the expiry representable and meaningful.
  ttl_seconds: Type.Optional(Type.Integer({ minimum: 1, maximum: 31_536_000 })),
});
const CreatedSchema = Type.Object({
  id: UuidSchema,
  project_id: NeonIdSchema,
  created_at: TimestampSchema,
  expires_at: TimestampSchema,
  /** orgplane extension: the console page where a signed-in user accepts the request. */
  claim_url: Type.String(),
});
const AcceptParamsSchema = Type.Object({
  project_id: NeonIdSchema,
  request_id: Type.String({ pattern: '^[a-z0-9-]{1,60}$' }),
});
const RequestViewSchema = Type.Object({
  id: UuidSchema,
  project_id: NeonIdSchema,
  project_name: Type.String(),
  source_org_id: Type.Union([Type.String(), Type.Null()]),
  source_org_name: Type.Union([Type.String(), Type.Null()]),
  created_by_email: Type.Union([Type.String(), Type.Null()]),
  created_at: TimestampSchema,
  expires_at: TimestampSchema,
  accepted_at: Type.Optional(TimestampSchema),
  status: Type.Union([
    Type.Literal('pending'),
    Type.Literal('accepted'),
    Type.Literal('expired'),
    Type.Literal('moved'),
    Type.Literal('cancelled'),
    Type.Literal('withdrawn'),
  ]),
});
const AcceptBodySchema = Type.Object({ org_id: Type.Optional(NeonIdSchema) });
const PlanErrorSchema = Type.Object({
  code: Type.String(),
  message: Type.String(),
  request_id: Type.Optional(Type.String()),
  reasons: Type.Array(Type.Object({ message: Type.String(), code: Type.String() })),
});

export const transferRequestsRoutes: FastifyPluginAsyncTypebox<{
  transferRequests: TransferRequestsService;
  config: Config;
}> = async (app, { transferRequests, config }) => {
  // Both bodies are optional in Neon's spec: no body (as JSON or as the empty form body Neon's SDK
  // sends for bodiless calls) means {}; any other content is parsed and validated as usual.
  const parseJson = app.getDefaultJsonParser('remove', 'remove');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    if (body === '') done(null, {});
    else void parseJson(req, body as string, done);
  });
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_req, body, done) => {
    if (body === '') done(null, {});
    else done(new AppError('UNSUPPORTED_MEDIA_TYPE', 'request body must be application/json'), undefined);
  });
  // A request without any body or content type (on each route: no hook for the others' requests).
  const emptyBody = async (req: FastifyRequest) => {
    if (req.body === undefined || req.body === null) req.body = {};
  };

  app.post(
    '/projects/:project_id/transfer_requests',
    {
      preValidation: emptyBody,
      config: { audit: 'project.transfer_request_created' },
      schema: {
        operationId: 'createProjectTransferRequest',
        tags: ['Project'],
        summary:
          'Create a one-time transfer request for a project (admins and organization keys; ttl_seconds default 86400); claim_url is an orgplane extension',
        params: Type.Object({ project_id: NeonIdSchema }),
        body: CreateBodySchema,
        response: { 201: CreatedSchema, ...ErrorResponses },
      },
    },
    async (req, reply) => {
      const r = await transferRequests.create(
        principalOf(req),
        req.params.project_id,
        req.body.ttl_seconds,
        auditOf(req),
      );
      return reply.code(201).send({
        id: r.id,
        project_id: r.project_id,
        created_at: toWireTime(r.created_at),
        expires_at: toWireTime(r.expires_at),
        claim_url: `${config.publicUrl}/transfer-requests/${r.id}?project_id=${r.project_id}`,
      });
    },
  );

  app.put(
    '/projects/:project_id/transfer_requests/:request_id',
    {
      preValidation: emptyBody,
      config: { audit: 'project.transferred' },
      schema: {
        operationId: 'acceptProjectTransferRequest',
        tags: ['Project'],
        summary:
          'Accept a transfer request: the project moves into org_id (default: the organization of an organization key; required with a personal key)',
        params: AcceptParamsSchema,
        body: AcceptBodySchema,
        response: { 204: Type.Null(), 406: PlanErrorSchema, ...ErrorResponses },
      },
    },
    async (req, reply) => {
      await transferRequests.accept(
        principalOf(req),
        req.params.project_id,
        req.params.request_id,
        req.body.org_id,
        auditOf(req),
      );
      return reply.code(204).send(null);
    },
  );

  app.delete(
    '/projects/:project_id/transfer_requests/:request_id',
    {
      config: { audit: 'project.transfer_request_cancelled' },
      schema: {
        operationId: 'cancelProjectTransferRequest',
        tags: ['Project'],
        summary:
          'Cancel a pending transfer request, so its link no longer works (orgplane extension; admins and organization keys of the organization it was made in)',
        params: AcceptParamsSchema,
        response: { 204: Type.Null(), ...ErrorResponses },
      },
    },
    async (req, reply) => {
      await transferRequests.cancel(
        principalOf(req),
        req.params.project_id,
        req.params.request_id,
        auditOf(req),
      );
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/projects/:project_id/transfer_requests/:request_id',
    {
      schema: {
        operationId: 'getProjectTransferRequest',
        tags: ['Project'],
        summary:
          'What a claim link offers: project name, sender, source organization, expiry and status (orgplane extension; anyone holding the link)',
        params: AcceptParamsSchema,
        response: { 200: RequestViewSchema, ...ErrorResponses },
      },
    },
    async (req) => {
      const v = await transferRequests.describe(
        principalOf(req),
        req.params.project_id,
        req.params.request_id,
      );
      return {
        id: v.request.id,
        project_id: v.request.project_id,
        project_name: v.projectName,
        source_org_id: v.request.source_org_id,
        source_org_name: v.sourceOrgName,
        created_by_email: v.senderEmail,
        created_at: toWireTime(v.request.created_at),
        expires_at: toWireTime(v.request.expires_at),
        ...(v.request.accepted_at ? { accepted_at: toWireTime(v.request.accepted_at) } : {}),
        status: v.status,
      };
    },
  );
};
