// User row → Neon's CurrentUserInfoResponse. orgplane has no billing: limits are generous constants.
import type { UserRow } from '../db/schema.ts';

export function presentCurrentUser(u: UserRow) {
  return {
    active_seconds_limit: 0,
    auth_accounts: [
      { email: u.email, image: u.image, login: u.email, name: u.name, provider: 'keycloak' as const },
    ],
    email: u.email,
    id: u.id,
    image: u.image,
    login: u.email,
    name: u.name,
    last_name: u.last_name,
    projects_limit: 0,
    branches_limit: 0,
    max_autoscaling_limit: 0,
    plan: 'self_hosted',
  };
}
