// Where records go that must not be forwarded (another tenant's records), that a sink rejected for good, or that a
// failing sink could not take before the content expired: kept with the reason and the sink, so nothing is lost,
// and re-delivered once the sink takes them again.
import type { ContentType } from '../api/content-types';
import type { ContentRef } from './sink';

/** The sink name of records that must never be forwarded (they are kept for people to look at). */
export const relayOwnEntries = 'relay';

export interface DeadLetterEntry {
  /** Opaque handle (the blob name). */
  id: string;
  sink: string;
  reason: string;
  content: ContentRef;
  recordCount: number;
  storedAt: Date;
  /** Re-delivery attempts so far. */
  attempts: number;
}

/** Where a span of a content blob that is not a record was: its byte offset and line in the blob. */
export interface SpanPlace {
  offset: number;
  line: number;
}

/** A span's text on its way into the dead letter, block by block: an element over the size cap is never held. */
export interface SpanUpload {
  write(bytes: Uint8Array): Promise<void>;
  /** Stores the span with why it is not a record and its size in bytes. */
  close(reason: string, size: number): Promise<void>;
  /** Stores nothing (the blob was cut short: the span will be read again). */
  abort(): Promise<void>;
}

export interface DeadLetter {
  put(content: ContentRef, reason: string, records: readonly unknown[], sink?: string): Promise<void>;
  /**
   * A span of a content blob that is not a record, kept as its text (sink "relay", for people to look at). Named
   * by the blob and the span's offset, so a retry of the blob writes the same entry again, never a second one.
   */
  openSpan(content: ContentRef, at: SpanPlace): SpanUpload;
}

export interface DeadLetterStore extends DeadLetter {
  list(options?: { sink?: string; since?: Date }): AsyncIterable<DeadLetterEntry>;
  read(entry: DeadLetterEntry): Promise<unknown[]>;
  remove(entry: DeadLetterEntry): Promise<void>;
  noteAttempt(entry: DeadLetterEntry, error: string): Promise<void>;
}

export type { ContentType };
