// One closed set of error codes and the one mapping to HTTP statuses.
// The wire body is Neon's GeneralError: { code, message, request_id }.

export const ERROR_STATUS = {
  BAD_REQUEST: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  NOT_ACCEPTABLE: 406,
  CONFLICT: 409,
  GONE: 410,
  PRECONDITION_FAILED: 412,
  REQUEST_TIMEOUT: 408,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  UNPROCESSABLE: 422,
  LOCKED: 423,
  RATE_LIMITED: 429,
  HEADERS_TOO_LARGE: 431,
  INTERNAL: 500,
  UNAVAILABLE: 503,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

export class AppError extends Error {
  readonly code: ErrorCode;
  /** Extra top-level fields for bodies Neon defines beyond GeneralError (406 limits, 422 projects). */
  readonly body: Record<string, unknown> | undefined;
  /** The body's code: the ErrorCode, or a specific one of Neon's where its clients may match it. */
  readonly wireCode: string;
  constructor(code: ErrorCode, message: string, body?: Record<string, unknown>, wireCode?: string) {
    super(message);
    this.name = 'AppError';
    this.code = code;
    this.body = body;
    this.wireCode = wireCode ?? code;
  }
  get status(): number {
    return ERROR_STATUS[this.code];
  }
}

// Messages that Neon's clients match on: keep them verbatim.
export const MESSAGES = {
  unauthorized: 'authentication required: provide a valid API key as "Authorization: Bearer <key>"',
  orgKeyNotAllowed: 'not allowed for organization API keys',
  projectKeyNotAllowed: 'not allowed for project-scoped API keys: the request is outside the project',
  /** GET /users/me with a project-scoped key (404); Neon's MCP server matches the second half. */
  projectKeyOutsideProject:
    'project-scoped API keys are not allowed to perform actions outside the project: there is no user behind the key',
  orgKeyHasNoUser: 'not allowed for organization API keys: there is no user behind the key',
  orgIdRequired: 'org_id is required, you can find it on your organization settings page',
} as const;

export const badRequest = (message: string) => new AppError('BAD_REQUEST', message);
/** A 400 with Neon's own code in the body (e.g. PROTECTED_BRANCH_EXPIRATION_NOT_ALLOWED). */
export const neonBadRequest = (wireCode: string, message: string) =>
  new AppError('BAD_REQUEST', message, undefined, wireCode);
export const notFound = (what: string) => new AppError('NOT_FOUND', `${what} not found`);
export const forbidden = (message: string) => new AppError('FORBIDDEN', message);
export const conflict = (message: string) => new AppError('CONFLICT', message);
