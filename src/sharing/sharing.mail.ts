// The two project-sharing emails, as plain text and HTML. Everything interpolated into HTML is escaped.
import type { OutgoingMessage } from '../mail/outbox.repository.ts';
import { html, mailPage, oneLine } from '../domain/html.ts';

export interface ShareMailContext {
  projectId: string;
  projectName: string;
  granterLabel: string;
  recipient: string;
  /** The grant's id (stored as the outbox row's invitation_id, so a revocation can cancel it). */
  permissionId: string;
  orgId: string | null;
  publicUrl: string;
}

const base = (c: ShareMailContext) => ({
  recipient: c.recipient,
  orgId: c.orgId ?? undefined,
  invitationId: c.permissionId,
});

/** For an address without an account: a single-use link to create one; the project is then theirs to use. */
export function shareNewAccount(c: ShareMailContext, link: string, expiresAt: string): OutgoingMessage {
  const project = oneLine(c.projectName, 100);
  const who = oneLine(c.granterLabel, 120);
  const subject = oneLine(`${who} shared the project ${project} with you on orgplane`, 200);
  const expires = new Date(expiresAt).toUTCString();
  const text = [
    `${who} shared the project "${project}" (${c.projectId}) with you.`,
    '',
    'Create your account to use it:',
    link,
    '',
    `The link works once and expires on ${expires}.`,
    'If you did not expect this, you can ignore this email.',
  ].join('\n');
  const htmlBody = mailPage(subject, [
    html`${who} shared the project <strong>${project}</strong> (<code>${c.projectId}</code>) with you.`,
    html`<a href="${link}">Create your account</a>`,
    html`Or paste this link into your browser: ${link}`,
    html`The link works once and expires on ${expires}. If you did not expect this, you can ignore this email.`,
  ]);
  return { kind: 'share.new_account', subject, text, html: htmlBody, ...base(c) };
}

/** For an existing account: access is already there; the email says so. */
export function shareAdded(c: ShareMailContext): OutgoingMessage {
  const project = oneLine(c.projectName, 100);
  const who = oneLine(c.granterLabel, 120);
  const subject = oneLine(`${who} shared the project ${project} with you on orgplane`, 200);
  const text = [
    `${who} shared the project "${project}" (${c.projectId}) with you.`,
    '',
    `It is listed under GET /api/v2/projects/shared and in the console: ${c.publicUrl}`,
  ].join('\n');
  const htmlBody = mailPage(subject, [
    html`${who} shared the project <strong>${project}</strong> (<code>${c.projectId}</code>) with you.`,
    html`It is listed under <code>GET /api/v2/projects/shared</code> and in the console:
      <a href="${c.publicUrl}">${c.publicUrl}</a>`,
  ]);
  return { kind: 'share.added', subject, text, html: htmlBody, ...base(c) };
}
