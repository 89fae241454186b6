// The spans of a content blob that are not records, on their way into the dead letter while the good records
// go on to the sinks: each as its text with its byte offset; one over the size cap piece by piece as the scanner
// hands it on, never held whole. Input cut short is noted, not kept: the blob is fetched again (unless it keeps
// arriving that way, then its tail is one more bad span).
import type { DecodedBatch, InvalidInput } from '../records/decode-stream';
import type { DeadLetter, SpanUpload } from '../sinks/dead-letter';
import type { ContentRef } from '../sinks/sink';

export interface BadSpans {
  /**
   * Keeps the batch's bad spans (and pieces of oversize ones) in the dead letter. With `keepCut`, input that ended
   * inside a record is kept as a bad span too (the blob arrived whole that way too often to be a transfer fault).
   */
  take(batch: DecodedBatch, options?: { keepCut?: boolean }): Promise<void>;
  /** Spans kept so far. */
  readonly kept: number;
  /** The first one, for the ledger's detail and the log. */
  readonly first: InvalidInput | undefined;
  /** Where the input was cut short, if it was. */
  readonly cut: InvalidInput | undefined;
  /** Drops uploads still open (the attempt failed; the next one writes the same entries again). */
  abort(): Promise<void>;
}

export function badSpans(deadLetter: DeadLetter, content: ContentRef): BadSpans {
  /** Oversize elements being uploaded, by offset (a batch may end one and start the next). */
  const open = new Map<number, SpanUpload>();
  let kept = 0;
  let first: InvalidInput | undefined;
  let cut: InvalidInput | undefined;
  const abort = async () => {
    const uploads = [...open.values()];
    open.clear();
    await Promise.allSettled(uploads.map((u) => u.abort()));
  };
  return {
    async take(batch, options = {}) {
      // Within a batch an element's pieces all come before its end, so pieces first, then the ends.
      for (const piece of batch.oversize) {
        let upload = open.get(piece.offset);
        if (!upload) open.set(piece.offset, (upload = deadLetter.openSpan(content, { offset: piece.offset, line: piece.line })));
        await upload.write(piece.bytes);
      }
      for (const span of batch.invalid) {
        if (span.kind === 'cut' && !options.keepCut) {
          cut ??= span;
          await abort();
          continue;
        }
        let upload = open.get(span.offset);
        open.delete(span.offset);
        if (!upload) {
          upload = deadLetter.openSpan(content, { offset: span.offset, line: span.line });
          await upload.write(Buffer.from(span.text ?? '', 'utf8'));
        }
        await upload.close(span.reason, span.size ?? Buffer.byteLength(span.text ?? ''));
        kept++;
        first ??= span;
      }
    },
    get kept() {
      return kept;
    },
    get first() {
      return first;
    },
    get cut() {
      return cut;
    },
    abort,
  };
}
