// The page behind a project-sharing sign-up link (outside /api/v2): the shared sign-up flow
// (console/signup-page.ts: form, cookie, CSRF token, Origin check) with the share's words. The new
// account joins no organization: the grant is its access.
import type { AppError } from '../domain/errors.ts';
import { html } from '../domain/html.ts';
import { firstKeyBlock, signupPages } from '../console/signup-page.ts';
import { NAME_MAX } from '../domain/names.ts';
import type { SharePreview, ShareSignupResult, SharingService } from './sharing.service.ts';

function errorPage(err: AppError) {
  const title =
    err.code === 'GONE'
      ? 'Link no longer valid'
      : err.code === 'FORBIDDEN'
        ? 'Request refused'
        : 'Link not valid';
  return { title, body: html`<p>${err.message}</p>` };
}

export function sharingPages(sharing: SharingService, publicUrl: string) {
  return signupPages<SharePreview, ShareSignupResult>({
    path: '/shares/accept',
    label: 'share sign-up page',
    nameMax: NAME_MAX,
    preview: (token) => sharing.preview(token),
    page: (p) => ({
      title: `${p.projectName} was shared with you`,
      intro: html`<p>
        The project <strong>${p.projectName}</strong> (<code>${p.grant.project_id}</code>) was shared with
        <strong>${p.grant.email}</strong>.
      </p>`,
      accountExists: p.accountExists,
      // The address's account holds the grant already: nothing to submit.
      existing: html`<p>
        An account with this address already exists: it has access to the project. Use your API keys, or
        <a href="/signin">sign in to the console</a>.
      </p>`,
      createLead: 'Create your account to use it.',
      createButton: 'Create account',
    }),
    accept: (token, account) => sharing.accept(token, account),
    done: (r) => {
      if (r.kind === 'existing_account') {
        return {
          title: `You have access to ${r.projectName}`,
          body: html`<p>
              ${r.email} has access to <strong>${r.projectName}</strong> (<code>${r.projectId}</code>).
            </p>
            <p>Use your existing account and API keys, or <a href="/signin">sign in to the console</a>.</p>`,
        };
      }
      return {
        title: `You have access to ${r.projectName}`,
        createdUserId: r.user.id,
        body: html`<p>
            Welcome, ${r.user.name}. Your account ${r.user.email} has access to
            <strong>${r.projectName}</strong> (<code>${r.projectId}</code>).
          </p>
          ${firstKeyBlock(r.apiKey, `${publicUrl}/api/v2/projects/shared`)}`,
      };
    },
    errorPage,
  });
}
