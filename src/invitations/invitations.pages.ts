// The join page behind an invitation link (outside /api/v2): a small server-rendered form where
// the invited person sets a name and password; submitting creates the account, makes it a member
// and shows a first personal API key once, in the console's style.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { refuseForeignOrigin, startSessionCookie } from '../console/console.routes.ts';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { Config } from '../config.ts';
import { AppError } from '../domain/errors.ts';
import type { InvitationsService } from './invitations.service.ts';
import type { SessionsService } from '../console/sessions.service.ts';
import { escapeHtml } from './html.ts';
import { NAME_MAX, type JoinResult } from './invitations.service.ts';
import { MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH } from '../domain/passwords.ts';

/** The console's own stylesheet, favicon and a small script (the key's copy button): served, never inline. */
export function layout(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer"><title>${escapeHtml(title)} · orgplane</title>
<link rel="icon" href="/favicon.svg" type="image/svg+xml"><link rel="stylesheet" href="/assets/console.css">
<script type="module" src="/assets/join.js"></script></head>
<body><main class="auth-page" id="main"><p class="auth-brand"><span class="logo" aria-hidden="true"></span>orgplane</p>
<div class="card"><h1>${escapeHtml(title)}</h1>
${body}
</div></main></body></html>`;
}

export function send(reply: FastifyReply, status: number, html: string): FastifyReply {
  return (
    reply
      .code(status)
      .type('text/html; charset=utf-8')
      // The URL carries a secret: never cache it (helmet's headers keep it out of Referers and
      // frames). Only this origin's stylesheet, script and icon; no inline code at all.
      .header('cache-control', 'no-store')
      .header(
        'content-security-policy',
        "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; connect-src 'none'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
      )
      .send(html)
  );
}

function joinForm(
  token: string,
  csrf: string,
  p: { orgName: string; inviter: string; role: string; email: string; accountExists: boolean },
  error?: string,
  name = '',
): string {
  const intro = `<p>${escapeHtml(p.inviter)} invited <strong>${escapeHtml(p.email)}</strong> to join <strong>${escapeHtml(p.orgName)}</strong> as <strong>${escapeHtml(p.role)}</strong>.</p>`;
  const err = error ? `<div class="notice error" role="alert"><p>${escapeHtml(error)}</p></div>` : '';
  // Relative action: the form posts back to this page's own origin, whatever Host the request had.
  if (p.accountExists) {
    return `${intro}${err}
<p>An account with this address already exists.</p>
<form method="post" action="accept" class="stack">
<input type="hidden" name="token" value="${escapeHtml(token)}">
<input type="hidden" name="csrf" value="${escapeHtml(csrf)}">
<div><button type="submit" class="primary">Join ${escapeHtml(p.orgName)}</button></div>
</form>`;
  }
  return `${intro}${err}
<p>Create your account to join.</p>
<form method="post" action="accept" class="stack">
<input type="hidden" name="token" value="${escapeHtml(token)}">
<input type="hidden" name="csrf" value="${escapeHtml(csrf)}">
<div><label for="name">Your name</label>
<input id="name" name="name" required maxlength="${NAME_MAX}" autocomplete="name" value="${escapeHtml(name)}"></div>
<div><label for="password">Password</label>
<input id="password" name="password" type="password" required minlength="${MIN_PASSWORD_LENGTH}" maxlength="${MAX_PASSWORD_LENGTH}" autocomplete="new-password" aria-describedby="password-hint">
<p class="hint" id="password-hint">At least ${MIN_PASSWORD_LENGTH} characters.</p></div>
<div><label for="password_confirm">Repeat the password</label>
<input id="password_confirm" name="password_confirm" type="password" required minlength="${MIN_PASSWORD_LENGTH}" maxlength="${MAX_PASSWORD_LENGTH}" autocomplete="new-password"></div>
<div><button type="submit" class="primary">Create account and join</button></div>
</form>`;
}

function joined(result: JoinResult, publicUrl: string): string {
  if (result.kind === 'existing_account') {
    return `<p>${escapeHtml(result.email)} is now a member of <strong>${escapeHtml(result.orgName)}</strong> (<code>${escapeHtml(result.orgId)}</code>).</p>
<p>Use your existing account and API keys, or sign in to the console.</p>
<p><a class="button primary" href="/signin">Sign in to the console</a></p>`;
  }
  const api = `${publicUrl}/api/v2`;
  return `<p>Welcome, ${escapeHtml(result.user.name)}. Your account ${escapeHtml(result.user.email)} is a member of <strong>${escapeHtml(result.orgName)}</strong> (<code>${escapeHtml(result.orgId)}</code>).</p>
<h2>Your first personal API key</h2>
<div class="notice warning"><p><strong>Copy it now: it is shown only once.</strong> Nobody, not even an admin, can see it again.</p></div>
<p class="token-box"><code id="api-key">${escapeHtml(result.apiKey)}</code></p>
<p class="row"><button type="button" class="primary" data-copy="api-key">Copy key</button> <span class="copy-status" role="status" aria-live="polite"></span></p>
<p>Use it as <code>Authorization: Bearer &lt;key&gt;</code>; with it you can create more keys (<code>POST /api/v2/api_keys</code>). Try it:</p>
<pre>curl -s ${escapeHtml(api)}/organizations/${escapeHtml(result.orgId)}/members \\
     -H "authorization: Bearer ${escapeHtml(result.apiKey)}"</pre>
<p><a class="button primary" href="/">Open the console</a> <span class="hint">You are signed in.</span></p>`;
}

function errorPage(err: AppError): { status: number; html: string } {
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
      ? '<p>Ask the person who invited you to send the invitation again.</p>'
      : '';
  return {
    status: err.status,
    html: layout(title, `<p>${escapeHtml(cap(err.message))}.</p>${next}`),
  };
}

const cap = (m: string) => m.charAt(0).toUpperCase() + m.slice(1);

export function field(body: unknown, name: string): string {
  const v = body && typeof body === 'object' ? (body as Record<string, unknown>)[name] : undefined;
  return typeof v === 'string' ? v : '';
}

/**
 * Login CSRF: submitting the form signs the browser in to the new account, so a foreign site must
 * not be able to submit its own invitation in a victim's browser. The page sets a random cookie
 * (SameSite=Strict, so a cross-site post does not carry it) and the form carries an HMAC of the
 * invitation token keyed by that cookie (double submit, bound to this invitation); a post without
 * both, or from a foreign Origin, is refused before anything is written.
 */
const JOIN_CSRF_MESSAGE =
  'this form was not sent from the invitation page (or it expired): open the invitation link again';
const joinCookieName = (config: Config) =>
  config.publicUrl.startsWith('https://') ? '__Host-orgplane_join' : 'orgplane_join';
const csrfFor = (cookie: string, token: string) =>
  createHmac('sha256', cookie).update(token).digest('base64url');

function csrfValid(cookie: string | undefined, token: string, given: string): boolean {
  if (!cookie || cookie.length < 32 || !given) return false;
  const a = Buffer.from(csrfFor(cookie, token));
  const b = Buffer.from(given);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The browser's join cookie, set now when it has none. */
function joinCookie(req: FastifyRequest, reply: FastifyReply, config: Config): string {
  const name = joinCookieName(config);
  const existing = req.cookies[name];
  if (existing && existing.length >= 32) return existing;
  const value = randomBytes(32).toString('base64url');
  reply.setCookie(name, value, {
    httpOnly: true,
    sameSite: 'strict',
    path: '/',
    secure: config.publicUrl.startsWith('https://'),
  });
  return value;
}

export const invitationPages: FastifyPluginAsync<{
  invitations: InvitationsService;
  sessions: SessionsService;
  config: Config;
}> = async (app, { invitations, sessions, config }) => {
  // HTML forms post urlencoded bodies; this parser exists only inside this plugin.
  app.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string', bodyLimit: 16 * 1024 },
    (_req, body, done) => {
      done(null, Object.fromEntries(new URLSearchParams(String(body))));
    },
  );

  app.setErrorHandler((error, request, reply) => {
    if (error instanceof AppError && error.status < 500) {
      const page = errorPage(error);
      return send(reply, page.status, page.html);
    }
    const status = (error as { statusCode?: number }).statusCode ?? 500;
    if (status >= 500) request.log.error({ err: error }, 'invitation page failed');
    return send(
      reply,
      status >= 400 && status < 500 ? status : 500,
      layout(
        'Something went wrong',
        status < 500 ? '<p>The request was not valid.</p>' : '<p>Please try again in a moment.</p>',
      ),
    );
  });

  app.get('/invitations/accept', { schema: { hide: true } }, async (req, reply) => {
    const token = field(req.query, 'token');
    const p = await invitations.preview(token);
    const csrf = csrfFor(joinCookie(req, reply, config), token);
    return send(
      reply,
      200,
      layout(
        `Join ${p.orgName}`,
        joinForm(token, csrf, {
          orgName: p.orgName,
          inviter: p.inviter,
          role: p.invitation.role,
          email: p.invitation.email,
          accountExists: p.accountExists,
        }),
      ),
    );
  });

  app.post('/invitations/accept', { schema: { hide: true } }, async (req, reply) => {
    const token = field(req.body, 'token');
    const name = field(req.body, 'name');
    const password = field(req.body, 'password');
    const confirm = field(req.body, 'password_confirm');
    // The page is no-referrer (its URL carries the invitation's secret), so its posts say Origin: null.
    refuseForeignOrigin(req, config, { allowNullOrigin: true });
    if (!csrfValid(req.cookies[joinCookieName(config)], token, field(req.body, 'csrf'))) {
      throw new AppError('FORBIDDEN', JOIN_CSRF_MESSAGE);
    }
    const p = await invitations.preview(token);
    const csrf = csrfFor(joinCookie(req, reply, config), token);
    const again = (message: string, status = 400) =>
      send(
        reply,
        status,
        layout(
          `Join ${p.orgName}`,
          joinForm(
            token,
            csrf,
            {
              orgName: p.orgName,
              inviter: p.inviter,
              role: p.invitation.role,
              email: p.invitation.email,
              accountExists: p.accountExists,
            },
            message,
            name,
          ),
        ),
      );
    if (!p.accountExists && confirm !== '' && password !== confirm) return again('The two passwords differ.');
    try {
      const result = await invitations.accept(token, p.accountExists ? undefined : { name, password }, {
        requestId: req.id,
        clientAddr: req.ip,
      });
      if (result.kind === 'created') {
        // The new account is signed in to the console at once, as a console sign-in would do.
        const { sessionId, info } = await sessions.openFor(result.user.id);
        startSessionCookie(reply, config, sessionId, info.expiresAt);
      }
      return send(reply, 200, layout(`You joined ${result.orgName}`, joined(result, config.publicUrl)));
    } catch (err) {
      if (err instanceof AppError && err.code === 'BAD_REQUEST') return again(`${cap(err.message)}.`);
      throw err;
    }
  });
};
