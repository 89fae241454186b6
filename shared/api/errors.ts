// Typed errors of the API client. Every documented AF code (reference §8, enums.json ErrorCodes, plus AF20024)
// and every failure of our own is a row of data: a stable code, what it means, how to fix it, and whether
// waiting can help (`retryable`) — the worker decides by that flag alone.

export type ErrorKind =
  | 'configuration' // consent, permission, wrong tenant, bad settings: a human must act
  | 'request' // the request itself is wrong (a bug here, or a changed API)
  | 'subscription' // state of a subscription (none, disabled, already enabled)
  | 'webhook' // the webhook could not be validated
  | 'content' // a content blob is gone, unknown or malformed
  | 'content-expired'
  | 'throttled'
  | 'transient' // server error, timeout, reset
  | 'refused'; // our own guard refused (URL, redirect)

export type ConfigurationProblem = 'consent' | 'permission' | 'wrong-tenant' | 'tenant' | 'credentials' | 'content-type';

export interface ErrorInfo {
  readonly meaning: string;
  readonly fix: string;
  readonly retryable: boolean;
  readonly kind: ErrorKind;
  readonly problem?: ConfigurationProblem;
}

/** The API's documented codes. */
export const afCodes = {
  AF10001: {
    meaning: 'the access token does not carry the ActivityFeed.Read permission',
    fix: 'grant the app the application permission ActivityFeed.Read (Office 365 Management APIs) and have a tenant admin grant admin consent',
    retryable: false, kind: 'configuration', problem: 'permission',
  },
  AF20001: {
    meaning: 'a required parameter is missing',
    fix: 'this is a bug in the client or a changed API; report it with the message',
    retryable: false, kind: 'request',
  },
  AF20002: {
    meaning: 'a parameter has the wrong type (int, datetime or GUID expected)',
    fix: 'this is a bug in the client or a changed API; report it with the message',
    retryable: false, kind: 'request',
  },
  AF20003: {
    meaning: 'the webhook expiration is in the past',
    fix: 'give the webhook a later expiration, or none',
    retryable: false, kind: 'request',
  },
  AF20010: {
    meaning: 'the tenant in the URL differs from the tenant the token was issued for',
    fix: 'check O365_TENANT_ID: the app must be consented in that tenant and sign in to it',
    retryable: false, kind: 'configuration', problem: 'wrong-tenant',
  },
  AF20011: {
    meaning: 'the tenant does not exist or was deleted',
    fix: 'check O365_TENANT_ID (the tenant GUID); if unified audit logging was just turned on, it can take up to 60 minutes',
    retryable: false, kind: 'configuration', problem: 'tenant',
  },
  AF20012: {
    meaning: 'the tenant is misconfigured in the service',
    fix: 'check that unified audit logging is on for the tenant (Microsoft Purview); contact Microsoft support if it stays',
    retryable: false, kind: 'configuration', problem: 'tenant',
  },
  AF20013: {
    meaning: 'the tenant id in the URL is not a valid GUID',
    fix: 'set O365_TENANT_ID to the tenant GUID, not a domain name',
    retryable: false, kind: 'configuration', problem: 'tenant',
  },
  AF20020: {
    meaning: 'the content type is not valid',
    fix: 'use Audit.AzureActiveDirectory, Audit.Exchange, Audit.SharePoint, Audit.General or DLP.All in O365_CONTENT_TYPES',
    retryable: false, kind: 'configuration', problem: 'content-type',
  },
  AF20021: {
    meaning: 'the webhook could not be validated (it did not answer HTTP 200, or its address is not HTTPS)',
    fix: 'make the webhook address public HTTPS and answer the validation POST with 200 before calling start',
    retryable: false, kind: 'webhook',
  },
  AF20022: {
    meaning: 'no subscription exists for this content type',
    fix: 'start a subscription for it (the subscription keeper does this once)',
    retryable: false, kind: 'subscription',
  },
  AF20023: {
    meaning: 'the subscription was disabled by a tenant admin or a service admin',
    fix: 'restart it with start (automatic only with O365_RESTART_DISABLED_SUBSCRIPTIONS=true); content created while disabled is lost',
    retryable: false, kind: 'subscription',
  },
  AF20024: {
    meaning: 'the subscription is already enabled',
    fix: 'nothing to do: start counts this as success',
    retryable: false, kind: 'subscription',
  },
  AF20030: {
    meaning: 'bad time window (both or neither of start and end, at most 24 h apart, start at most 7 days back)',
    fix: 'plan windows with shared/api/windows.ts; check the machine clock',
    retryable: false, kind: 'request',
  },
  AF20031: {
    meaning: 'the nextPage value is invalid',
    fix: 'list the window again from its first page',
    retryable: false, kind: 'request',
  },
  AF20050: {
    meaning: 'the requested content blob does not exist',
    fix: 'nothing to fetch: the contentId is unknown to this tenant (possibly forged)',
    retryable: false, kind: 'content',
  },
  AF20051: {
    meaning: 'the requested content has expired (older than 7 days)',
    fix: 'it cannot be fetched any more; it is lost for this API (Purview audit search keeps longer retention)',
    retryable: false, kind: 'content-expired',
  },
  AF20052: {
    meaning: 'the content id is malformed',
    fix: 'nothing to fetch: the contentId is not one the API issued',
    retryable: false, kind: 'content',
  },
  AF20053: {
    meaning: 'the Accept-Language header names more than one language',
    fix: 'send a single language',
    retryable: false, kind: 'request',
  },
  AF20054: {
    meaning: 'the Accept-Language header is not valid',
    fix: 'send a single valid language tag such as en-US',
    retryable: false, kind: 'request',
  },
  AF20055: {
    meaning: 'bad time window (as AF20030, and the start must precede the end)',
    fix: 'plan windows with shared/api/windows.ts; check the machine clock',
    retryable: false, kind: 'request',
  },
  AF429: {
    meaning: 'too many requests for this tenant (throttled)',
    fix: 'wait and retry; lower O365_REQUESTS_PER_MINUTE and make sure O365_PUBLISHER_ID is sent',
    retryable: true, kind: 'throttled',
  },
  AF50000: {
    meaning: 'internal server error in the API',
    fix: 'retry later',
    retryable: true, kind: 'transient',
  },
} as const satisfies Record<string, ErrorInfo>;

export type AfCode = keyof typeof afCodes;

/** Failures that are ours to name (no AF code in the answer, or detected before asking). */
export const clientCodes = {
  UNAUTHORIZED: {
    meaning: 'the API refused the access token (HTTP 401)',
    fix: 'check admin consent in this tenant, that O365_CLIENT_ID and its secret or certificate belong to the same app, and O365_CLOUD',
    retryable: false, kind: 'configuration', problem: 'consent',
  },
  SIGN_IN_FAILED: {
    meaning: 'signing in to Entra ID failed',
    fix: 'check O365_TENANT_ID, O365_CLIENT_ID, the secret or certificate (expired?), and that the app is consented in the tenant',
    retryable: false, kind: 'configuration', problem: 'credentials',
  },
  FEDERATED_AUDIENCE_MISMATCH: {
    meaning: "no federated identity credential of the app registration accepts the audience of the managed identity's token",
    fix: 'give the federated credential on the app registration (O365_CLIENT_ID) the audience of O365_CLOUD: api://AzureADTokenExchange for Enterprise and GCC, api://AzureADTokenExchangeUSGov for GCCHigh and DoD (az ad app federated-credential update), or correct O365_CLOUD',
    retryable: false, kind: 'configuration', problem: 'credentials',
  },
  FEDERATED_ISSUER_MISMATCH: {
    meaning: "no federated identity credential of the app registration trusts the issuer of the managed identity's token",
    fix: "set the federated credential's issuer to https://<login host>/<tenant id of the managed identity>/v2.0 (e.g. https://login.microsoftonline.com/<tenant>/v2.0); the app registration must be registered in the identity's tenant",
    retryable: false, kind: 'configuration', problem: 'credentials',
  },
  FEDERATED_SUBJECT_MISMATCH: {
    meaning: 'the app registration trusts no managed identity with this principal: its federated credential names another subject',
    fix: "set the federated credential's subject to the object (principal) id of the user-assigned identity whose client id is O365_FEDERATED_IDENTITY_CLIENT_ID; a system-assigned identity cannot be trusted this way",
    retryable: false, kind: 'configuration', problem: 'credentials',
  },
  MANAGED_IDENTITY_UNAVAILABLE: {
    meaning: 'the managed identity endpoint gave no token for O365_FEDERATED_IDENTITY_CLIENT_ID',
    fix: "set O365_FEDERATED_IDENTITY_CLIENT_ID to the client id of a user-assigned identity assigned to the Function App (not the app registration's id, not a system-assigned identity); only Azure provides the endpoint (IDENTITY_ENDPOINT)",
    retryable: false, kind: 'configuration', problem: 'credentials',
  },
  SIGN_IN_UNAVAILABLE: {
    meaning: 'the sign-in service could not be reached or failed temporarily',
    fix: 'retry later; check outbound network access to the authority host',
    retryable: true, kind: 'transient',
  },
  HTTP_ERROR: {
    meaning: 'the API answered an unexpected HTTP error without an AF code',
    fix: 'see the status; report it if it repeats',
    retryable: false, kind: 'request',
  },
  SERVER_ERROR: {
    meaning: 'the API answered a server error (5xx)',
    fix: 'retry later',
    retryable: true, kind: 'transient',
  },
  NETWORK: {
    meaning: 'the connection failed, was reset or timed out',
    fix: 'retry later; check outbound network access to the API host',
    retryable: true, kind: 'transient',
  },
  CONTENT_INTERRUPTED: {
    meaning: 'the content download stopped before the end of the body',
    fix: 'fetch the blob again',
    retryable: true, kind: 'transient',
  },
  UNEXPECTED_RESPONSE: {
    meaning: 'the API answered something that is not the documented shape',
    fix: 'report it with the details; the answer was not used',
    retryable: false, kind: 'request',
  },
  REDIRECT_REFUSED: {
    meaning: 'the API answered a redirect, which is never followed with a token',
    fix: 'check O365_CLOUD and O365_API_BASE_URL; a proxy may be rewriting requests',
    retryable: false, kind: 'refused',
  },
  URL_REFUSED: {
    meaning: 'a URL received from outside is not the expected API URL for this tenant',
    fix: 'nothing to fetch: it may be forged; only URLs on the cloud API host under this tenant are used',
    retryable: false, kind: 'refused',
  },
  START_THROTTLED: {
    meaning: 'a subscription start for this tenant and content type was made less than 15 minutes ago',
    fix: 'wait until the 15-minute start spacing has passed',
    retryable: true, kind: 'throttled',
  },
  ABORTED: {
    meaning: 'the call was cancelled or ran out of its time budget',
    fix: 'retry with more time',
    retryable: true, kind: 'transient',
  },
} as const satisfies Record<string, ErrorInfo>;

export type ClientCode = keyof typeof clientCodes;
export type ErrorCode = AfCode | ClientCode;

const errorTable: Readonly<Record<ErrorCode, ErrorInfo>> = { ...afCodes, ...clientCodes };

export function isAfCode(code: string): code is AfCode {
  return Object.hasOwn(afCodes, code);
}

export interface ErrorContext {
  tenantId?: string | undefined;
  operation?: string | undefined;
  contentType?: string | undefined;
  contentId?: string | undefined;
  /** HTTP status of the answer, when there was one. */
  status?: number | undefined;
  /** The API's own message (never contains secrets: it names codes, keys and publisher ids). */
  apiMessage?: string | undefined;
  /** Extra detail of ours (never a secret). */
  detail?: string | undefined;
  /** How long the server asked us to wait. */
  retryAfterMs?: number | undefined;
  /** Overrides the table's flag, e.g. an unknown AF code on a 5xx. */
  retryable?: boolean | undefined;
  cause?: unknown;
}

export class ManagementApiError extends Error {
  override name = 'ManagementApiError';
  readonly code: string;
  readonly retryable: boolean;
  readonly kind: ErrorKind;
  readonly fix: string;
  readonly status: number | undefined;
  readonly tenantId: string | undefined;
  readonly operation: string | undefined;
  readonly apiMessage: string | undefined;
  readonly retryAfterMs: number | undefined;

  constructor(code: string, info: ErrorInfo, context: ErrorContext = {}) {
    const where = [context.operation, context.tenantId && `tenant ${context.tenantId}`, context.contentType]
      .filter(Boolean)
      .join(', ');
    const parts = [
      `${code}: ${info.meaning}`,
      where && `(${where})`,
      context.status !== undefined ? `[HTTP ${context.status}]` : '',
      context.detail ?? '',
      context.apiMessage ? `API said: ${context.apiMessage}` : '',
      `Fix: ${info.fix}.`,
    ];
    super(parts.filter(Boolean).join(' '), context.cause === undefined ? undefined : { cause: context.cause });
    this.code = code;
    this.retryable = context.retryable ?? info.retryable;
    this.kind = info.kind;
    this.fix = info.fix;
    this.status = context.status;
    this.tenantId = context.tenantId;
    this.operation = context.operation;
    this.apiMessage = context.apiMessage;
    this.retryAfterMs = context.retryAfterMs;
  }
}

/** Consent, permission, wrong tenant, bad credentials: a person must change something; never retried. */
export class ApiConfigurationError extends ManagementApiError {
  override name = 'ApiConfigurationError';
  readonly problem: ConfigurationProblem;
  constructor(code: string, info: ErrorInfo, context: ErrorContext = {}) {
    super(code, info, context);
    this.problem = info.problem ?? 'credentials';
  }
}

/** The blob is past its 7 days: detected from contentExpiration before asking, or answered AF20051. */
export class ContentExpiredError extends ManagementApiError {
  override name = 'ContentExpiredError';
  readonly detectedBy: 'api' | 'contentExpiration';
  constructor(context: ErrorContext & { detectedBy: 'api' | 'contentExpiration' }) {
    super('AF20051', afCodes.AF20051, { ...context, retryable: false });
    this.detectedBy = context.detectedBy;
  }
}

/** Builds the typed error for a code: the class follows the table's kind. */
export function apiError(code: ErrorCode, context: ErrorContext = {}): ManagementApiError {
  const info = errorTable[code];
  if (info.kind === 'configuration') return new ApiConfigurationError(code, info, context);
  if (info.kind === 'content-expired') return new ContentExpiredError({ ...context, detectedBy: 'api' });
  return new ManagementApiError(code, info, context);
}

/** An AF code the table does not know yet: retryable only if the status says the server failed. */
export function unknownAfError(code: string, context: ErrorContext = {}): ManagementApiError {
  const status = context.status ?? 0;
  const transient = status >= 500 || status === 429;
  return new ManagementApiError(
    code,
    {
      meaning: 'the API answered an error code this client does not know',
      fix: 'see the API message; report the code so it can be added to the table',
      retryable: transient,
      kind: transient ? 'transient' : 'request',
    },
    context,
  );
}

/** Maps an error answer (status + parsed `{"error":{...}}` body, if any) to the typed error. */
export function errorFromAnswer(
  status: number,
  body: { code?: string | undefined; message?: string | undefined } | undefined,
  context: ErrorContext = {},
): ManagementApiError {
  const ctx: ErrorContext = { ...context, status, apiMessage: body?.message ?? context.apiMessage };
  const code = body?.code;
  if (code !== undefined && code !== '') {
    if (isAfCode(code)) return apiError(code, ctx);
    return unknownAfError(code, ctx);
  }
  if (status === 401) return apiError('UNAUTHORIZED', ctx);
  if (status === 429) return apiError('AF429', ctx);
  if (status >= 300 && status < 400) return apiError('REDIRECT_REFUSED', ctx);
  if (status >= 500) return apiError('SERVER_ERROR', ctx);
  return apiError('HTTP_ERROR', ctx);
}

export function isRetryable(err: unknown): boolean {
  return err instanceof ManagementApiError && err.retryable;
}
