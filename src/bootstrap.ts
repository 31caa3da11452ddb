// First start on an empty database: an admin user, an organization, and a personal API key shown once.
import type { Services } from './services.ts';
import { countUsers } from './users/users.repository.ts';
import { AppError } from './domain/errors.ts';

export interface BootstrapResult {
  email: string;
  userId: string;
  orgId: string;
  token: string;
  /** One-time token for the console's password-setup link. */
  setupToken: string;
}

/** Does nothing (returns null) when any user exists. Safe when two processes start at once: the email is unique. */
export async function bootstrapIfEmpty(services: Services): Promise<BootstrapResult | null> {
  if ((await countUsers(services.db.kysely)) > 0) return null;
  try {
    const user = await services.users.create({ email: services.config.adminEmail, name: 'Admin' });
    const org = await services.organizations.createWithAdmin(user.id, {
      name: 'Default Organization',
      plan: 'business',
    });
    const { token } = await services.apiKeys.createPersonalFor(user.id, 'bootstrap');
    const setupToken = await services.sessions.createSetupToken(user.id);
    return { email: user.email, userId: user.id, orgId: org.id, token, setupToken };
  } catch (err) {
    if (err instanceof AppError && err.code === 'CONFLICT') return null; // another process bootstrapped first
    throw err;
  }
}

export function bootstrapBanner(b: BootstrapResult, baseUrl: string, publicUrl = baseUrl): string {
  return [
    '',
    '================================================================================',
    ' orgplane: first start. An admin, an organization and a personal API key exist.',
    ` admin:        ${b.email}`,
    ` organization: ${b.orgId}`,
    ` API key:      ${b.token}`,
    ' The key is shown only this once. Store it now.',
    '',
    ' Web console: set the admin password with this one-time link (valid 72 hours):',
    `   ${publicUrl}/setup?token=${b.setupToken}`,
    '',
    ' Try it:',
    `   curl -s ${baseUrl}/api/v2/users/me/organizations -H "Authorization: Bearer ${b.token}"`,
    '================================================================================',
    '',
  ].join('\n');
}
