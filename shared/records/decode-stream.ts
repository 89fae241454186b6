// Bytes in, decoded and filtered records out, batch by batch: the path shared by the CLI and the worker.
// Input is detected by content: JSON records (scanner.ts) or a Purview audit CSV export (purview-csv.ts).
import { decodeRecord, type DecodedRecord } from './decode';
import type { RecordContext, RecordFilter } from './filters';
import { gunzipIfNeeded } from './input';
import { readPurviewCsv, sniffPurviewCsv } from './purview-csv';
import { readRecords } from './scanner';

/**
 * Input that is not a record. `bad`: a complete element that is not one, with its text (at most the record size
 * cap; the Purview CSV reader keeps none). `oversize`: an element over the cap, its bytes handed on as `oversize`
 * pieces. `cut`: the input ended inside an element or before the array's `]` (cut short, not bad data).
 */
export interface InvalidInput {
  kind: 'bad' | 'oversize' | 'cut';
  reason: string;
  offset: number;
  line: number;
  text?: string;
  /** Bytes of an oversize element. */
  size?: number;
}

/** A piece of an element over the record size cap (at `offset`), in input order; never held whole. */
export interface OversizePiece {
  offset: number;
  line: number;
  bytes: Buffer;
}

export interface DecodedBatch {
  /** Records that passed the filter. */
  records: DecodedRecord[];
  invalid: InvalidInput[];
  oversize: OversizePiece[];
}

export interface DecodeStats {
  records: number;
  kept: number;
  filtered: number;
  withSchemaErrors: number;
  invalid: number;
}

export const emptyStats = (): DecodeStats => ({ records: 0, kept: 0, filtered: 0, withSchemaErrors: 0, invalid: 0 });

export async function* decodeStream(
  source: AsyncIterable<Uint8Array>,
  options: { filter?: RecordFilter; context?: RecordContext; stats?: DecodeStats; maxRecordBytes?: number } = {},
): AsyncGenerator<DecodedBatch> {
  const stats = options.stats ?? emptyStats();
  const keep = options.filter ?? (() => true);
  const input = await sniffPurviewCsv(gunzipIfNeeded(source));
  const parsed = input.isCsv ? readPurviewCsv(input.source) : readRecords(input.source, options.maxRecordBytes);
  for await (const items of parsed) {
    const batch: DecodedBatch = { records: [], invalid: [], oversize: [] };
    for (const item of items) {
      if (item.kind !== 'record') {
        if (item.kind === 'oversize') {
          batch.oversize.push({ offset: item.offset, line: item.line, bytes: item.bytes });
          continue;
        }
        stats.invalid++;
        const { reason, offset, line } = item;
        if (item.kind === 'invalid') batch.invalid.push({ kind: 'bad', reason, offset, line, ...(item.text === undefined ? {} : { text: item.text }) });
        else if (item.kind === 'oversize-end') batch.invalid.push({ kind: 'oversize', reason, offset, line, size: item.size });
        else batch.invalid.push({ kind: 'cut', reason, offset, line, ...(item.text === undefined ? {} : { text: item.text }) });
        continue;
      }
      const decoded = decodeRecord(item.value);
      stats.records++;
      if (decoded.schemaErrors.length > 0) stats.withSchemaErrors++;
      if (keep(decoded, options.context)) {
        stats.kept++;
        batch.records.push(decoded);
      } else stats.filtered++;
    }
    yield batch;
  }
}
