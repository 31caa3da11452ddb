// Timestamps: stored as ISO-8601 with milliseconds, sent as RFC 3339 UTC with second precision (Neon's wire format).

export const nowIso = (): string => new Date().toISOString();

/** '2024-01-01T12:00:00.123Z' → '2024-01-01T12:00:00Z' */
export function toWireTime(iso: string): string {
  return iso.length >= 19 ? `${iso.slice(0, 19)}Z` : iso;
}

export function addHours(iso: string, hours: number): string {
  return new Date(Date.parse(iso) + hours * 3600_000).toISOString();
}

/** Milliseconds since the epoch; injected where expiry decides access, so tests can move time. */
export type Clock = () => number;
export const systemClock: Clock = () => Date.now();
