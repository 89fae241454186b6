// Where records go that must not be forwarded (another tenant's records) or that a sink rejected for good:
// kept, with the reason, so nothing is silently lost.
import type { ContentRef } from './sink';

export interface DeadLetter {
  put(content: ContentRef, reason: string, records: readonly unknown[], sink?: string): Promise<void>;
}
