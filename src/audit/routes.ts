// Every mutating route under /api/v2 and the audit action it records: allowed outcomes are written
// by the service inside its transaction, denied ones (4xx) by the hook in src/http/audit.ts under
// this action. test/audit.test.ts walks the route table and fails for a mutating route that
// is missing here, so a new route is audited by adding its line. null: a POST that changes nothing.
import { UNSUPPORTED_OPERATIONS } from '../projects/unsupported.ts';

export const AUDITED_ROUTES: Readonly<Record<string, string | null>> = {
  'POST /api/v2/api_keys': 'api_key.created',
  'DELETE /api/v2/api_keys/:key_id': 'api_key.revoked',
  'POST /api/v2/organizations': 'organization.created',
  'POST /api/v2/organizations/:org_id/api_keys': 'api_key.created',
  'DELETE /api/v2/organizations/:org_id/api_keys/:key_id': 'api_key.revoked',
  'PATCH /api/v2/organizations/:org_id/members/:member_id': 'member.role_changed',
  'PATCH /api/v2/organizations/members/:member_id': 'member.role_changed',
  'DELETE /api/v2/organizations/:org_id/members/:member_id': 'member.removed',
  'POST /api/v2/organizations/:org_id/invitations': 'invitation.created',
  'DELETE /api/v2/organizations/:org_id/invitations/:invitation_id': 'invitation.revoked',
  'POST /api/v2/organizations/:org_id/invitations/:invitation_id/resend': 'invitation.resent',
  'POST /api/v2/projects': 'project.created',
  'PATCH /api/v2/projects/:project_id': 'project.updated',
  'DELETE /api/v2/projects/:project_id': 'project.deleted',
  'POST /api/v2/projects/:project_id/recover': 'project.recovered',
  'POST /api/v2/organizations/:source_org_id/projects/transfer': 'project.transferred',
  'POST /api/v2/users/me/projects/transfer': 'project.transferred',
  'POST /api/v2/organizations/:org_id/access/explain': null,
  'POST /api/v2/api_keys/:key_id/rotate': 'api_key.rotated',
  'POST /api/v2/organizations/:org_id/api_keys/:key_id/rotate': 'api_key.rotated',
  'PATCH /api/v2/organizations/:org_id': 'organization.updated',
  'POST /api/v2/projects/:project_id/permissions': 'project_permission.granted',
  'DELETE /api/v2/projects/:project_id/permissions/:permission_id': 'project_permission.revoked',
  'POST /api/v2/projects/:project_id/transfer_requests': 'project.transfer_request_created',
  'PUT /api/v2/projects/:project_id/transfer_requests/:request_id': 'project.transferred',
};

/**
 * Mutating routes that are deliberately not audited, with the reason. Neon's branch and endpoint
 * operations orgplane does not serve answer 422 to every authenticated caller before anything is
 * read or authorized: there is no change and no access decision to record, and recording them
 * would let any key write into any organization's chain by naming its project.
 * test/audit.test.ts checks each answers 422 and writes no event.
 */
export const NOT_AUDITED_ROUTES: Readonly<Record<string, string>> = Object.fromEntries(
  UNSUPPORTED_OPERATIONS.filter((op) => op.method !== 'GET').map((op) => [
    `${op.method} /api/v2${op.path.replace(/\{([a-z_]+)\}/g, ':$1')}`,
    `not supported (always 422, changes nothing): ${op.operationId}`,
  ]),
);

export const MUTATING_METHODS: ReadonlySet<string> = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
