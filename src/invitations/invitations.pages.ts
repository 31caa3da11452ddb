// The join page behind an invitation link (outside /api/v2): the shared sign-up flow
// (console/signup-page.ts: form, cookie, CSRF token, Origin check) with the invitation's words.
import type { AppError } from '../domain/errors.ts';
import { html } from '../domain/html.ts';
import { firstKeyBlock, signupPages } from '../console/signup-page.ts';
import type { JoinPreview, InvitationsService, JoinResult } from './invitations.service.ts';
import { NAME_MAX } from '../domain/names.ts';

const cap = (m: string) => m.charAt(0).toUpperCase() + m.slice(1);

function errorPage(err: AppError) {
  const title =
    err.code === 'GONE'
      ? 'Invitation no longer valid'
      : err.code === 'NOT_FOUND'
        ? 'Invitation not found'
        : err.code === 'FORBIDDEN'
          ? 'Request refused'
          : 'Something went wrong';
  const next =
    err.code === 'GONE' || err.code === 'NOT_FOUND'
      ? html`<p>Ask the person who invited you to send the invitation again.</p>`
      : '';
  return {
    title,
    body: html`<p>${cap(err.message)}.</p>
      ${next}`,
  };
}

export function invitationPages(invitations: InvitationsService, publicUrl: string) {
  return signupPages<JoinPreview, JoinResult>({
    path: '/invitations/accept',
    label: 'invitation page',
    nameMax: NAME_MAX,
    preview: (token) => invitations.preview(token),
    page: (p) => ({
      title: `Join ${p.orgName}`,
      intro: html`<p>
        ${p.inviter} invited <strong>${p.invitation.email}</strong> to join <strong>${p.orgName}</strong> as
        <strong>${p.invitation.role}</strong>.
      </p>`,
      accountExists: p.accountExists,
      existing: html`<p>An account with this address already exists.</p>`,
      existingButton: `Join ${p.orgName}`,
      createLead: 'Create your account to join.',
      createButton: 'Create account and join',
    }),
    accept: (token, account, req) =>
      invitations.accept(token, account, { requestId: req.id, clientAddr: req.ip }),
    done: (r) => {
      if (r.kind === 'existing_account') {
        return {
          title: `You joined ${r.orgName}`,
          body: html`<p>
              ${r.email} is now a member of <strong>${r.orgName}</strong> (<code>${r.orgId}</code>).
            </p>
            <p>Use your existing account and API keys, or sign in to the console.</p>
            <p><a class="button primary" href="/signin">Sign in to the console</a></p>`,
        };
      }
      return {
        title: `You joined ${r.orgName}`,
        createdUserId: r.user.id,
        body: html`<p>
            Welcome, ${r.user.name}. Your account ${r.user.email} is a member of
            <strong>${r.orgName}</strong> (<code>${r.orgId}</code>).
          </p>
          ${firstKeyBlock(r.apiKey, `${publicUrl}/api/v2/organizations/${r.orgId}/members`)}`,
      };
    },
    errorPage,
  });
}
