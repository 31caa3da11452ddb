// The two invitation emails, as plain text and HTML. Everything interpolated into HTML is escaped.
import type { MemberRole } from '../db/schema.ts';
import type { OutgoingMessage } from '../mail/outbox.repository.ts';
import { escapeHtml, oneLine } from './html.ts';

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

function page(title: string, paragraphs: string[]): string {
  return [
    '<!doctype html>',
    '<html lang="en"><head><meta charset="utf-8">',
    `<title>${escapeHtml(title)}</title></head>`,
    '<body style="font-family: sans-serif; line-height: 1.5; max-width: 40em">',
    ...paragraphs.map((p) => `<p>${p}</p>`),
    '</body></html>',
  ].join('\n');
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
  const html = page(subject, [
    `${escapeHtml(who)} invited you to join the organization <strong>${escapeHtml(org)}</strong> as <strong>${escapeHtml(c.role)}</strong>.`,
    `<a href="${escapeHtml(link)}">Create your account and join ${escapeHtml(org)}</a>`,
    `Or paste this link into your browser: ${escapeHtml(link)}`,
    `The link works once and expires on ${escapeHtml(expires)}. If you did not expect this invitation, you can ignore this email.`,
  ]);
  return {
    kind: 'invitation.new_account',
    recipient: c.recipient,
    subject,
    text,
    html,
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
  const html = page(subject, [
    `${escapeHtml(who)} added you to the organization <strong>${escapeHtml(org)}</strong> as <strong>${escapeHtml(c.role)}</strong>.`,
    `You are a member now; nothing else to do. <a href="${escapeHtml(c.publicUrl)}">${escapeHtml(c.publicUrl)}</a>`,
    `The organization's id is <code>${escapeHtml(c.orgId)}</code>.`,
  ]);
  return {
    kind: 'invitation.added',
    recipient: c.recipient,
    subject,
    text,
    html,
    orgId: c.orgId,
    invitationId: c.invitationId,
  };
}
