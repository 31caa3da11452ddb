// Neon's connection string, one shape for every place that prints one (the API's responses, the
// console): `neonctl cs` prints the same, and libpq then insists on SCRAM with channel binding.

/** `postgresql://role:password@host/db?sslmode=require&channel_binding=require`. */
export function neonConnectionUri(host: string, role: string, password: string, database: string): string {
  return `postgresql://${encodeURIComponent(role)}:${encodeURIComponent(password)}@${host}/${encodeURIComponent(database)}?${NEON_URI_PARAMS}`;
}

/** The query string Neon puts on every connection string. */
export const NEON_URI_PARAMS = 'sslmode=require&channel_binding=require';
