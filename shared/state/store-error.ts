// Typed failures of the state store, so the worker decides by `retryable` alone. Messages carry the operation,
// the HTTP status and the service's error code only: never a URL, a connection string or a key.

export const stateStoreErrorCodes = {
  /** Network failure, timeout or a 5xx: the store may answer later. */
  STATE_UNAVAILABLE: { retryable: true },
  /** 429 / 503 ServerBusy: the account is throttling. */
  STATE_THROTTLED: { retryable: true },
  /** Too many concurrent writers changed the same row while we retried. */
  STATE_CONTENTION: { retryable: true },
  /** Credentials or permissions refused (401/403): a human must act. */
  STATE_UNAUTHORIZED: { retryable: false },
  /** The store refused the request itself (other 4xx): a bug or bad settings. */
  STATE_REJECTED: { retryable: false },
  /** A stored row does not have the shape this code writes. */
  STATE_CORRUPT: { retryable: false },
  /** The caller no longer holds the claim it writes under (it expired and another worker took it). */
  CLAIM_LOST: { retryable: false },
  /** The row the caller refers to does not exist. */
  NOT_FOUND: { retryable: false },
} as const satisfies Record<string, { retryable: boolean }>;

export type StateStoreErrorCode = keyof typeof stateStoreErrorCodes;

export class StateStoreError extends Error {
  override readonly name = 'StateStoreError';
  readonly retryable: boolean;
  constructor(
    readonly code: StateStoreErrorCode,
    message: string,
    /** HTTP status of the store's answer, when there was one. */
    readonly status?: number,
  ) {
    super(message);
    this.retryable = stateStoreErrorCodes[code].retryable;
  }
}

/** The fields of an Azure SDK RestError we read (duck-typed: the SDK's class is not a direct dependency). */
interface RestErrorLike {
  statusCode?: number;
  code?: string;
  name?: string;
}

const restFields = (err: unknown): RestErrorLike => (err !== null && typeof err === 'object' ? (err as RestErrorLike) : {});

export const statusOf = (err: unknown): number | undefined => restFields(err).statusCode;

function codeForStatus(status: number | undefined): StateStoreErrorCode {
  if (status === undefined || status === 408) return 'STATE_UNAVAILABLE';
  if (status === 429 || status === 503) return 'STATE_THROTTLED';
  if (status >= 500) return 'STATE_UNAVAILABLE';
  if (status === 401 || status === 403) return 'STATE_UNAUTHORIZED';
  return 'STATE_REJECTED';
}

/** Maps an SDK failure of `operation` to a StateStoreError (already-typed errors pass through). */
export function toStateStoreError(operation: string, err: unknown): StateStoreError {
  if (err instanceof StateStoreError) return err;
  const { statusCode, code } = restFields(err);
  // A service error code is a short identifier; anything else (a network errno message) is summarised.
  const detail = [statusCode === undefined ? 'no answer' : `HTTP ${statusCode}`, typeof code === 'string' && /^[A-Za-z_]{1,64}$/.test(code) ? code : undefined]
    .filter(Boolean)
    .join(' ');
  return new StateStoreError(codeForStatus(statusCode), `table storage: ${operation} failed (${detail})`, statusCode);
}
