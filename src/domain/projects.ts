// Project rules shared by services, presenters and schemas.

/** Deleted projects stay recoverable this long (Neon: 7 days). */
export const RECOVERY_WINDOW_MS = 7 * 24 * 3600_000;

/** Neon's integration (application) types. */
export const APPLICATION_TYPES = ['vercel', 'github', 'datadog', 'opentelemetry'] as const;
export type ApplicationType = (typeof APPLICATION_TYPES)[number];
