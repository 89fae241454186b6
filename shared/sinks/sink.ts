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
  /** Records the destination has accepted so far (for progress in the ledger). */
  readonly accepted: number;
}

export interface Sink {
  readonly name: string;
  /**
   * Starts delivering one content blob. `resumeAfter` records were accepted by an earlier attempt: a sink
   * that can resume skips them; an all-or-nothing sink (blob) ignores it.
   */
  open(content: ContentRef, options: { resumeAfter: number; signal?: AbortSignal }): Promise<SinkWriter>;
}

export class SinkError extends Error {
  override readonly name = 'SinkError';
  constructor(
    readonly sink: string,
    message: string,
    /** True when waiting can help (destination down, throttled); false for permanent rejections. */
    readonly retryable: boolean,
    readonly code = retryable ? 'SINK_UNAVAILABLE' : 'SINK_REJECTED',
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
