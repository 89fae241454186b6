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

/** What a failed Azure SDK call tells: the HTTP status and the service's error code (duck-typed RestError). */
export interface StoreFailure {
  status?: number | undefined;
  /** e.g. TableNotFound, ResourceNotFound, UpdateConditionNotSatisfied; data-tables puts it in `details`. */
  serviceCode?: string | undefined;
}

export function storeFailure(err: unknown): StoreFailure {
  if (err === null || typeof err !== 'object') return {};
  const e = err as { statusCode?: unknown; code?: unknown; details?: { errorCode?: unknown } };
  const serviceCode = [e.details?.errorCode, e.code].find((c): c is string => typeof c === 'string');
  return { status: typeof e.statusCode === 'number' ? e.statusCode : undefined, serviceCode };
}

/** The table itself is gone (deleted after we created it): the ledger creates it again on the next call. */
export const isMissingTable = (err: unknown): boolean => storeFailure(err).serviceCode === 'TableNotFound';

/** A 404 about the row, not the table. */
export const isMissingRow = (err: unknown): boolean => storeFailure(err).status === 404 && !isMissingTable(err);

function codeFor({ status, serviceCode }: StoreFailure): StateStoreErrorCode {
  if (serviceCode === 'TableNotFound') return 'STATE_UNAVAILABLE';
  if (status === undefined || status === 408) return 'STATE_UNAVAILABLE';
  if (status === 429 || status === 503) return 'STATE_THROTTLED';
  if (status >= 500) return 'STATE_UNAVAILABLE';
  if (status === 401 || status === 403) return 'STATE_UNAUTHORIZED';
  return 'STATE_REJECTED';
}

/** Maps an SDK failure of `operation` to a StateStoreError (already-typed errors pass through). */
export function toStateStoreError(operation: string, err: unknown): StateStoreError {
  if (err instanceof StateStoreError) return err;
  const failure = storeFailure(err);
  const { status, serviceCode } = failure;
  // A service error code is a short identifier; anything else (a network error's text) is not repeated.
  const detail = [status === undefined ? 'no answer' : `HTTP ${status}`, serviceCode !== undefined && /^[A-Za-z_]{1,64}$/.test(serviceCode) ? serviceCode : undefined]
    .filter(Boolean)
    .join(' ');
  return new StateStoreError(codeFor(failure), `table storage: ${operation} failed (${detail})`, status);
}
