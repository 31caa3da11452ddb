// The page behind a project-sharing sign-up link (outside /api/v2): the person sets a name and a
// password; submitting creates the account (no organization membership: the grant is its access)
// and shows a first personal API key once. Same look and headers as the invitation page.
import type { FastifyPluginAsync } from 'fastify';
import type { Config } from '../config.ts';
import { startSessionCookie } from '../console/console.routes.ts';
import type { SessionsService } from '../console/sessions.service.ts';
import { AppError } from '../domain/errors.ts';
import { escapeHtml } from '../invitations/html.ts';
import { field, layout, send } from '../invitations/invitations.pages.ts';
import { NAME_MAX } from '../invitations/invitations.service.ts';
import {
  MAX_PASSWORD_LENGTH as PASSWORD_MAX,
  MIN_PASSWORD_LENGTH as PASSWORD_MIN,
} from '../domain/passwords.ts';
import type { SharePreview, ShareSignupResult, SharingService } from './sharing.service.ts';

function form(token: string, p: SharePreview, error?: string, name = ''): string {
  const intro = `<p>The project <strong>${escapeHtml(p.projectName)}</strong> (<code>${escapeHtml(p.grant.project_id)}</code>) was shared with <strong>${escapeHtml(p.grant.email)}</strong>.</p>`;
  const err = error ? `<p class="error" role="alert">${escapeHtml(error)}</p>` : '';
  if (p.accountExists) {
    return `${intro}${err}
<p>An account with this address already exists: it has access to the project. Use your API keys, or <a href="/signin">sign in to the console</a>.</p>`;
  }
  return `${intro}${err}
<p>Create your account to use it.</p>
<form method="post" action="accept">
<input type="hidden" name="token" value="${escapeHtml(token)}">
<label for="name">Your name</label>
<input id="name" name="name" required maxlength="${NAME_MAX}" autocomplete="name" value="${escapeHtml(name)}">
<label for="password">Password (at least ${PASSWORD_MIN} characters)</label>
<input id="password" name="password" type="password" required minlength="${PASSWORD_MIN}" maxlength="${PASSWORD_MAX}" autocomplete="new-password">
<label for="password_confirm">Repeat the password</label>
<input id="password_confirm" name="password_confirm" type="password" required minlength="${PASSWORD_MIN}" maxlength="${PASSWORD_MAX}" autocomplete="new-password">
<button type="submit">Create account</button>
</form>`;
}

function done(result: ShareSignupResult, publicUrl: string): string {
  if (result.kind === 'existing_account') {
    return `<p>${escapeHtml(result.email)} has access to <strong>${escapeHtml(result.projectName)}</strong> (<code>${escapeHtml(result.projectId)}</code>).</p>
<p>Use your existing account and API keys, or <a href="/signin">sign in to the console</a>.</p>`;
  }
  const api = `${publicUrl}/api/v2`;
  return `<p>Welcome, ${escapeHtml(result.user.name)}. Your account ${escapeHtml(result.user.email)} has access to <strong>${escapeHtml(result.projectName)}</strong> (<code>${escapeHtml(result.projectId)}</code>).</p>
<h2>Your first personal API key</h2>
<p><strong>Copy it now: it is shown only once.</strong> Use it as <code>Authorization: Bearer &lt;key&gt;</code>.</p>
<p><code id="api-key">${escapeHtml(result.apiKey)}</code></p>
<p>Try it:</p>
<pre>curl -s ${escapeHtml(api)}/projects/shared \\
     -H "authorization: Bearer ${escapeHtml(result.apiKey)}"</pre>
<p><a href="/">Open the console</a> (you are signed in).</p>`;
}

export const sharingPages: FastifyPluginAsync<{
  sharing: SharingService;
  sessions: SessionsService;
  config: Config;
}> = async (app, { sharing, sessions, config }) => {
  app.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string', bodyLimit: 16 * 1024 },
    (_req, body, next) => next(null, Object.fromEntries(new URLSearchParams(String(body)))),
  );

  app.setErrorHandler((error, request, reply) => {
    if (error instanceof AppError && error.status < 500) {
      const title = error.code === 'GONE' ? 'Link no longer valid' : 'Link not valid';
      return send(reply, error.status, layout(title, `<p>${escapeHtml(error.message)}</p>`));
    }
    const status = (error as { statusCode?: number }).statusCode ?? 500;
    if (status >= 500) request.log.error({ err: error }, 'share sign-up page failed');
    return send(
      reply,
      status >= 400 && status < 500 ? status : 500,
      layout(
        'Something went wrong',
        status < 500 ? '<p>The request was not valid.</p>' : '<p>Please try again.</p>',
      ),
    );
  });

  app.get('/shares/accept', { schema: { hide: true } }, async (req, reply) => {
    const token = field(req.query, 'token');
    const p = await sharing.preview(token);
    return send(reply, 200, layout(`${p.projectName} was shared with you`, form(token, p)));
  });

  app.post('/shares/accept', { schema: { hide: true } }, async (req, reply) => {
    const token = field(req.body, 'token');
    const name = field(req.body, 'name');
    const password = field(req.body, 'password');
    const confirm = field(req.body, 'password_confirm');
    const p = await sharing.preview(token);
    const again = (message: string) =>
      send(reply, 400, layout(`${p.projectName} was shared with you`, form(token, p, message, name)));
    if (!p.accountExists && confirm !== '' && password !== confirm) return again('The two passwords differ.');
    try {
      const result = await sharing.accept(token, p.accountExists ? undefined : { name, password });
      if (result.kind === 'created') {
        const { sessionId, info } = await sessions.openFor(result.user.id);
        startSessionCookie(reply, config, sessionId, info.expiresAt);
      }
      return send(
        reply,
        200,
        layout(`You have access to ${result.projectName}`, done(result, config.publicUrl)),
      );
    } catch (err) {
      if (err instanceof AppError && err.code === 'BAD_REQUEST') return again(err.message);
      throw err;
    }
  });
};
