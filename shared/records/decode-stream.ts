// Bytes in, decoded and filtered records out, batch by batch: the path shared by the CLI and the worker.
// Input is detected by content: JSON records (scanner.ts) or a Purview audit CSV export (purview-csv.ts).
import { decodeRecord, type DecodedRecord } from './decode';
import type { RecordContext, RecordFilter } from './filters';
import { gunzipIfNeeded } from './input';
import { readPurviewCsv, sniffPurviewCsv } from './purview-csv';
import { readRecords } from './scanner';

export interface InvalidInput {
  reason: string;
  offset: number;
  line: number;
}

export interface DecodedBatch {
  /** Records that passed the filter. */
  records: DecodedRecord[];
  invalid: InvalidInput[];
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
  options: { filter?: RecordFilter; context?: RecordContext; stats?: DecodeStats } = {},
): AsyncGenerator<DecodedBatch> {
  const stats = options.stats ?? emptyStats();
  const keep = options.filter ?? (() => true);
  const input = await sniffPurviewCsv(gunzipIfNeeded(source));
  const parsed = input.isCsv ? readPurviewCsv(input.source) : readRecords(input.source);
  for await (const items of parsed) {
    const batch: DecodedBatch = { records: [], invalid: [] };
    for (const item of items) {
      if (item.kind === 'invalid') {
        stats.invalid++;
        batch.invalid.push({ reason: item.reason, offset: item.offset, line: item.line });
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
