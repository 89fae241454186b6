// The sink contract: a sink takes the decoded records of one content blob, in blob order, and its writer's
// close() resolves only when the destination has accepted them as far as its protocol can tell. Failures are
// SinkErrors that say whether waiting can help; the worker decides by that flag alone.
import type { ContentType } from '../api/content-types';
import type { DecodedRecord } from '../records/decode';

export interface ContentRef {
  tenantId: string;
  contentType: ContentType;
  contentId: string;
  contentCreated: string;
}

export interface SinkWriter {
  /** Takes the next records; resolves when they are buffered or sent (back-pressure). */
  write(records: readonly DecodedRecord[]): Promise<void>;
  /** Sends what is left; resolves once the destination has accepted every record. */
  close(): Promise<void>;
  /** Drops what is buffered and not committed. */
  abort(): Promise<void>;
  /**
   * Sends what is buffered and waits for the answers, without ending the delivery: for a sink that resumes, so what
   * was written before an interruption is accepted (and counted) instead of sent again. All-or-nothing sinks omit it.
   */
  drain?(): Promise<void>;
  /** Records the destination has accepted so far (for progress in the ledger). */
  readonly accepted: number;
}

export interface OpenOptions {
  /**
   * Records (in blob order, after filtering) accepted by an earlier attempt: a sink that can resume skips that
   * many of the records it is given; an all-or-nothing sink (blob) ignores it.
   */
  resumeAfter: number;
  /**
   * Called with the new `accepted` count after each batch the destination took, and awaited before the next batch
   * goes out: the worker records it, so a worker killed mid-blob re-sends at most the one batch in flight.
   */
  onAccepted?: (accepted: number) => Promise<void>;
  signal?: AbortSignal;
  /**
   * For records the destination rejected for good (a 4xx for that batch): the sink hands them here (they go to
   * the dead letter with the reason) and counts them as handled, then goes on with the next batch.
   */
  rejected?: (records: readonly DecodedRecord[], reason: string) => Promise<void>;
}

export interface Sink {
  readonly name: string;
  /** Starts delivering one content blob. */
  open(content: ContentRef, options: OpenOptions): Promise<SinkWriter>;
}

/** What a sink factory gets besides its own settings. */
export interface SinkContext {
  /** The value of a setting that holds a secret (HEC token, bearer token, TLS key); throws naming a missing one. */
  secret(settingName: string): string;
  logger: import('../log').Logger;
}

export class SinkError extends Error {
  override readonly name = 'SinkError';
  constructor(
    readonly sink: string,
    message: string,
    /** True when waiting can help (destination down, throttled); false for permanent rejections. */
    readonly retryable: boolean,
    readonly code = retryable ? 'SINK_UNAVAILABLE' : 'SINK_REJECTED',
    options?: { cause?: unknown; retryAfterMs?: number | undefined },
  ) {
    super(message, options);
    this.retryAfterMs = options?.retryAfterMs;
  }
  /** How long the destination asked us to wait (its Retry-After), when it said. */
  readonly retryAfterMs: number | undefined;
}
