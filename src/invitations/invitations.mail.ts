// The two invitation emails, as plain text and HTML. Everything interpolated into HTML is escaped.
import type { MemberRole } from '../db/schema.ts';
import type { OutgoingMessage } from '../mail/outbox.repository.ts';
import { html, mailPage, oneLine } from '../domain/html.ts';

export interface InvitationMailContext {
  orgId: string;
  orgName: string;
  inviterName: string;
  inviterEmail: string;
  role: MemberRole;
  recipient: string;
  invitationId: string;
  publicUrl: string;
}

function inviterLabel(c: InvitationMailContext): string {
  return c.inviterName ? `${oneLine(c.inviterName, 80)} (${c.inviterEmail})` : c.inviterEmail;
}

/** For an address without an account: the single-use join link. */
export function newAccountInvitation(
  c: InvitationMailContext,
  link: string,
  expiresAt: string,
): OutgoingMessage {
  const org = oneLine(c.orgName, 100);
  const who = inviterLabel(c);
  const subject = oneLine(`${who} invited you to join ${org} on orgplane`, 200);
  const expires = new Date(expiresAt).toUTCString();
  const text = [
    `${who} invited you to join the organization "${org}" as ${c.role}.`,
    '',
    'Create your account and join:',
    link,
    '',
    `The link works once and expires on ${expires}.`,
    'If you did not expect this invitation, you can ignore this email.',
  ].join('\n');
  const htmlBody = mailPage(subject, [
    html`${who} invited you to join the organization <strong>${org}</strong> as <strong>${c.role}</strong>.`,
    html`<a href="${link}">Create your account and join ${org}</a>`,
    html`Or paste this link into your browser: ${link}`,
    html`The link works once and expires on ${expires}. If you did not expect this invitation, you can ignore
    this email.`,
  ]);
  return {
    kind: 'invitation.new_account',
    recipient: c.recipient,
    subject,
    text,
    html: htmlBody,
    orgId: c.orgId,
    invitationId: c.invitationId,
  };
}

/** For an existing account: it has already joined; the email says so. */
export function addedToOrganization(c: InvitationMailContext): OutgoingMessage {
  const org = oneLine(c.orgName, 100);
  const who = inviterLabel(c);
  const subject = oneLine(`You were added to ${org} on orgplane`, 200);
  const text = [
    `${who} added you to the organization "${org}" as ${c.role}.`,
    '',
    `You are a member now; nothing else to do. orgplane: ${c.publicUrl}`,
    `The organization's id is ${c.orgId}.`,
  ].join('\n');
  const htmlBody = mailPage(subject, [
    html`${who} added you to the organization <strong>${org}</strong> as <strong>${c.role}</strong>.`,
    html`You are a member now; nothing else to do. <a href="${c.publicUrl}">${c.publicUrl}</a>`,
    html`The organization's id is <code>${c.orgId}</code>.`,
  ]);
  return {
    kind: 'invitation.added',
    recipient: c.recipient,
    subject,
    text,
    html: htmlBody,
    orgId: c.orgId,
    invitationId: c.invitationId,
  };
}
