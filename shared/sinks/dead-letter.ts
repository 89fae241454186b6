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

export interface DeadLetter {
  put(content: ContentRef, reason: string, records: readonly unknown[], sink?: string): Promise<void>;
}

export interface DeadLetterStore extends DeadLetter {
  list(options?: { sink?: string; since?: Date }): AsyncIterable<DeadLetterEntry>;
  read(entry: DeadLetterEntry): Promise<unknown[]>;
  remove(entry: DeadLetterEntry): Promise<void>;
  noteAttempt(entry: DeadLetterEntry, error: string): Promise<void>;
}

export type { ContentType };
