// A writer that sends a sink's share of a blob to the dead letter instead of the sink: used when the content is
// about to expire and the sink is still failing, so the events are kept (and re-delivered later) rather than lost.
import type { DecodedRecord } from '../records/decode';
import type { DeadLetter } from './dead-letter';
import type { ContentRef, SinkWriter } from './sink';

const chunk = 5000;

export function deadLetterWriter(deadLetter: DeadLetter, content: ContentRef, sink: string, reason: string, resumeAfter: number): SinkWriter {
  let skip = resumeAfter;
  let accepted = resumeAfter;
  let pending: unknown[] = [];
  const flush = async () => {
    if (pending.length === 0) return;
    const records = pending;
    pending = [];
    await deadLetter.put(content, reason, records, sink);
    accepted += records.length;
  };
  return {
    async write(records: readonly DecodedRecord[]) {
      for (const record of records) {
        if (skip > 0) skip--;
        else pending.push(record.raw);
      }
      if (pending.length >= chunk) await flush();
    },
    close: flush,
    async abort() {
      pending = [];
    },
    get accepted() {
      return accepted;
    },
  };
}
