// The Management API's error codes as data: HTTP status and message template per AF code. Bodies have the
// documented shape {"error":{"code","message"}}; messages follow errors.json where it has them, else the API
// reference's templates. The doc gives a status only for AF429 (403); the 400s are what collectors observe;
// 401 for AF10001 and 500 for AF50000 are our choice.

export type ErrorCode = keyof typeof errorTable;

interface ErrorSpec {
  status: number;
  /** `{0}`, `{1}` … are filled from the arguments, in order. */
  message: string;
}

export const errorTable = {
  AF10001: { status: 401, message: 'The permission set ({0}) sent in the request did not include the expected permission ActivityFeed.Read.' },
  AF20001: { status: 400, message: 'Missing parameter: {0}.' },
  AF20002: { status: 400, message: 'Invalid parameter type: {0}. Expected type: {1}' },
  AF20003: { status: 400, message: 'Expiration {0} provided is set to past date and time.' },
  AF20010: { status: 400, message: 'The tenant ID passed in the URL ({0}) does not match the tenant ID passed in the access token ({1}).' },
  AF20011: { status: 400, message: 'Specified tenant ID ({0}) does not exist in the system or has been deleted.' },
  AF20012: { status: 400, message: 'Specified tenant ID ({0}) is incorrectly configured in the system.' },
  AF20013: { status: 400, message: 'The tenant ID passed in the URL ({0}) is not a valid GUID.' },
  AF20020: { status: 400, message: 'The specified content type is not valid.' },
  AF20021: { status: 400, message: 'The webhook endpoint {0} could not be validated. {1}' },
  AF20022: { status: 400, message: 'No subscription found for the specified content type.' },
  AF20023: { status: 400, message: 'The subscription was disabled{0}.' },
  AF20024: { status: 400, message: 'The subscription is already enabled. No property change.' },
  AF20030: {
    status: 400,
    message:
      'Start time and end time must both be specified (or both omitted) and must be less than or equal to 24 hours apart, with the start time no more than 7 days in the past.',
  },
  AF20031: { status: 400, message: 'Invalid nextPage Input: {0}.' },
  AF20050: { status: 400, message: 'The specified content ({0}) does not exist.' },
  AF20051: { status: 400, message: 'Content requested with the key {0} has already expired. Content older than 7 days cannot be retrieved.' },
  AF20052: { status: 400, message: 'Content ID {0} in the URL is invalid.' },
  AF20053: { status: 400, message: 'Only one language may be present in the Accept-Language header.' },
  AF20054: { status: 400, message: 'Invalid syntax in the Accept-Language header.' },
  AF20055: {
    status: 400,
    message:
      'Start time and end time must both be specified (or both omitted) and must be less than or equal to 24 hours apart, with the start time prior to end time and start time no more than 7 days in the past.',
  },
  AF429: { status: 403, message: 'Too many requests. Method={0}, PublisherId={1}' },
  AF50000: { status: 500, message: 'An internal server error occurred. Retry the request.' },
} as const satisfies Record<string, ErrorSpec>;

export interface ErrorBody {
  error: { code: string; message: string };
}

export interface ApiError {
  status: number;
  body: ErrorBody;
}

export function formatMessage(template: string, args: readonly string[]): string {
  return template.replace(/\{(\d+)\}/g, (whole, index: string) => args[Number(index)] ?? whole);
}

export function apiError(code: ErrorCode, ...args: string[]): ApiError {
  const spec: ErrorSpec = errorTable[code];
  return { status: spec.status, body: { error: { code, message: formatMessage(spec.message, args) } } };
}

/** Who disabled a subscription, as the AF20023 message names it (the three variants in errors.json). */
export const disabledByText = {
  tenantAdmin: ' by a tenant admin',
  serviceAdmin: ' by a service admin',
  stopped: '',
} as const;
