// The one sign-up / join flow behind emailed links (invitations, project shares): a server-rendered
// page in the console's style where the person sets a name and a password; submitting creates the
// account, signs the browser in to the console and shows a first personal API key once.
//
// Login CSRF: submitting the form signs the browser in, so a foreign site must not be able to
// submit a link of its own in a victim's browser. Every flow therefore gets, from this one place:
//   - a random cookie (SameSite=Strict: a cross-site post does not carry it) set by the page, and
//     in the form an HMAC of the link's token keyed by that cookie (double submit, bound to the link);
//   - the Origin / Sec-Fetch-Site check of the console's sign-in;
// and a post without both is refused (403) before anything is read or written.
// Pages are built with html`…` (domain/html.ts): every interpolation is escaped.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { Config } from '../config.ts';
import { refuseForeignOrigin, startSessionCookie } from './console.routes.ts';
import type { SessionsService } from './sessions.service.ts';
import { AppError } from '../domain/errors.ts';
import { html, type SafeHtml } from '../domain/html.ts';
import { MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH } from '../domain/passwords.ts';

/** The console's own stylesheet, favicon and a small script (the key's copy button): served, never inline. */
export function layout(title: string, body: SafeHtml): SafeHtml {
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="referrer" content="no-referrer" />
        <title>${title} · orgplane</title>
        <link rel="icon" href="/favicon.svg" type="image/svg+xml" />
        <link rel="stylesheet" href="/assets/console.css" />
        <script type="module" src="/assets/join.js"></script>
      </head>
      <body>
        <main class="auth-page" id="main">
          <p class="auth-brand"><span class="logo" aria-hidden="true"></span>orgplane</p>
          <div class="card">
            <h1>${title}</h1>
            ${body}
          </div>
        </main>
      </body>
    </html>`;
}

export function send(reply: FastifyReply, status: number, page: SafeHtml): FastifyReply {
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
      .send(page.value)
  );
}

export function field(body: unknown, name: string): string {
  const v = body && typeof body === 'object' ? (body as Record<string, unknown>)[name] : undefined;
  return typeof v === 'string' ? v : '';
}

/** The first personal API key, shown once, with a copy button and a curl line that uses it. */
export function firstKeyBlock(apiKey: string, curlUrl: string): SafeHtml {
  return html`<h2>Your first personal API key</h2>
    <div class="notice warning">
      <p><strong>Copy it now: it is shown only once.</strong> Nobody, not even an admin, can see it again.</p>
    </div>
    <p class="token-box"><code id="api-key">${apiKey}</code></p>
    <p class="row">
      <button type="button" class="primary" data-copy="api-key">Copy key</button>
      <span class="copy-status" role="status" aria-live="polite"></span>
    </p>
    <p>
      Use it as <code>Authorization: Bearer &lt;key&gt;</code>; with it you can create more keys (<code
        >POST /api/v2/api_keys</code
      >). Try it:
    </p>
    <pre>
curl -s ${curlUrl} \\
     -H "authorization: Bearer ${apiKey}"</pre>
    <p>
      <a class="button primary" href="/">Open the console</a> <span class="hint">You are signed in.</span>
    </p>`;
}

export const SIGNUP_CSRF_MESSAGE =
  'this form was not sent from the page of its link (or it expired): open the link again';

/** What one kind of link (invitation, share) plugs into the flow. */
export interface SignupFlow<P, R> {
  /** The page's path, e.g. '/invitations/accept' (GET shows the form, POST submits it). */
  path: string;
  /** For log lines: 'invitation page'. */
  label: string;
  /** The longest name accepted. */
  nameMax: number;
  /** The link's token → what the page shows; throws AppError (404, 410) for a dead link. */
  preview(token: string): Promise<P>;
  page(p: P): {
    title: string;
    intro: SafeHtml;
    /** An account with the link's address exists (no name or password asked). */
    accountExists: boolean;
    /** Existing account: what to say, and the button that completes the link (none: nothing to do). */
    existing: SafeHtml;
    existingButton?: string | undefined;
    /** New account: the intro line and the submit button. */
    createLead: string;
    createButton: string;
  };
  /** Completes the link; account is the new account's name and password, undefined for an existing one. */
  accept(
    token: string,
    account: { name: string; password: string } | undefined,
    req: FastifyRequest,
  ): Promise<R>;
  /** The result page; createdUserId: the new account to sign in to the console. */
  done(r: R): { title: string; body: SafeHtml; createdUserId?: string | undefined };
  /** A dead or refused link's page. */
  errorPage(err: AppError): { title: string; body: SafeHtml };
}

const cookieName = (config: Config) =>
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
  const name = cookieName(config);
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

function form<P>(
  flow: SignupFlow<P, unknown>,
  p: P,
  token: string,
  csrf: string,
  error?: string,
  name = '',
): SafeHtml {
  const v = flow.page(p);
  const err = error ? html`<div class="notice error" role="alert"><p>${error}</p></div>` : '';
  const hidden = html`<input type="hidden" name="token" value="${token}" />
    <input type="hidden" name="csrf" value="${csrf}" />`;
  // Relative action: the form posts back to this page's own origin, whatever Host the request had.
  if (v.accountExists) {
    const button = v.existingButton
      ? html`<form method="post" action="accept" class="stack">
          ${hidden}
          <div><button type="submit" class="primary">${v.existingButton}</button></div>
        </form>`
      : '';
    return html`${v.intro}${err} ${v.existing} ${button}`;
  }
  return html`${v.intro}${err}
    <p>${v.createLead}</p>
    <form method="post" action="accept" class="stack">
      ${hidden}
      <div>
        <label for="name">Your name</label>
        <input
          id="name"
          name="name"
          required
          maxlength="${flow.nameMax}"
          autocomplete="name"
          value="${name}"
        />
      </div>
      <div>
        <label for="password">Password</label>
        <input
          id="password"
          name="password"
          type="password"
          required
          minlength="${MIN_PASSWORD_LENGTH}"
          maxlength="${MAX_PASSWORD_LENGTH}"
          autocomplete="new-password"
          aria-describedby="password-hint"
        />
        <p class="hint" id="password-hint">At least ${MIN_PASSWORD_LENGTH} characters.</p>
      </div>
      <div>
        <label for="password_confirm">Repeat the password</label>
        <input
          id="password_confirm"
          name="password_confirm"
          type="password"
          required
          minlength="${MIN_PASSWORD_LENGTH}"
          maxlength="${MAX_PASSWORD_LENGTH}"
          autocomplete="new-password"
        />
      </div>
      <div><button type="submit" class="primary">${v.createButton}</button></div>
    </form>`;
}

/** The plugin serving one flow's page (GET) and form (POST). */
export function signupPages<P, R>(
  flow: SignupFlow<P, R>,
): FastifyPluginAsync<{ sessions: SessionsService; config: Config }> {
  return async (app, { sessions, config }) => {
    // HTML forms post urlencoded bodies; this parser exists only inside this plugin.
    app.addContentTypeParser(
      'application/x-www-form-urlencoded',
      { parseAs: 'string', bodyLimit: 16 * 1024 },
      (_req, body, done) => done(null, Object.fromEntries(new URLSearchParams(String(body)))),
    );

    app.setErrorHandler((error, request, reply) => {
      if (error instanceof AppError && error.status < 500) {
        const page = flow.errorPage(error);
        return send(reply, error.status, layout(page.title, page.body));
      }
      const status = (error as { statusCode?: number }).statusCode ?? 500;
      if (status >= 500) request.log.error({ err: error }, `${flow.label} failed`);
      return send(
        reply,
        status >= 400 && status < 500 ? status : 500,
        layout(
          'Something went wrong',
          status < 500 ? html`<p>The request was not valid.</p>` : html`<p>Please try again in a moment.</p>`,
        ),
      );
    });

    app.get(flow.path, { schema: { hide: true } }, async (req, reply) => {
      const token = field(req.query, 'token');
      const p = await flow.preview(token);
      const csrf = csrfFor(joinCookie(req, reply, config), token);
      return send(reply, 200, layout(flow.page(p).title, form(flow, p, token, csrf)));
    });

    app.post(flow.path, { schema: { hide: true } }, async (req, reply) => {
      const token = field(req.body, 'token');
      const name = field(req.body, 'name');
      const password = field(req.body, 'password');
      const confirm = field(req.body, 'password_confirm');
      // The page is no-referrer (its URL carries the link's secret), so its posts say Origin: null.
      refuseForeignOrigin(req, config, { allowNullOrigin: true });
      if (!csrfValid(req.cookies[cookieName(config)], token, field(req.body, 'csrf'))) {
        throw new AppError('FORBIDDEN', SIGNUP_CSRF_MESSAGE);
      }
      const p = await flow.preview(token);
      const view = flow.page(p);
      const csrf = csrfFor(joinCookie(req, reply, config), token);
      const again = (message: string) =>
        send(reply, 400, layout(view.title, form(flow, p, token, csrf, message, name)));
      if (!view.accountExists && confirm !== '' && password !== confirm)
        return again('The two passwords differ.');
      try {
        const result = await flow.accept(token, view.accountExists ? undefined : { name, password }, req);
        const out = flow.done(result);
        if (out.createdUserId !== undefined) {
          // The new account is signed in to the console at once, as a console sign-in would do.
          const { sessionId, info } = await sessions.openFor(out.createdUserId);
          startSessionCookie(reply, config, sessionId, info.expiresAt);
        }
        return send(reply, 200, layout(out.title, out.body));
      } catch (err) {
        if (err instanceof AppError && err.code === 'BAD_REQUEST') {
          return again(`${err.message.charAt(0).toUpperCase()}${err.message.slice(1)}.`);
        }
        throw err;
      }
    });
  };
}
