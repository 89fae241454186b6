// A Microsoft Purview audit search export (CSV) read as a stream of records: each row's AuditData column is the
// record's JSON. RFC 4180: quoted fields, doubled quotes, CRLF or LF, line breaks inside quoted fields. Rows are
// cut on bytes (quotes and LF are ASCII, so UTF-8 cannot fool the cut) and only one row is held at a time.
// A bad row is reported with its line number and byte offset, like the scanner's invalid inputs, never thrown.
import type { ParsedItem } from './scanner';

const QUOTE = 0x22, LF = 0x0a;
const BOM = Buffer.from([0xef, 0xbb, 0xbf]);

/** Rows longer than this are reported and skipped, so an unterminated quote cannot take all memory. */
export const defaultMaxRowBytes = 64 * 1024 * 1024;

/**
 * The columns used besides AuditData: they fill in what a row's AuditData lacks (never override it). The classic
 * export's header was `CreationDate,UserIds,Operations,AuditData`, hence the plural names.
 */
const fallbackColumns = {
  recordid: 'Id',
  creationdate: 'CreationTime',
  recordtype: 'RecordType',
  operation: 'Operation',
  operations: 'Operation',
  userid: 'UserId',
  userids: 'UserId',
} as const;
type FallbackField = (typeof fallbackColumns)[keyof typeof fallbackColumns];

const isoDate = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d+))?Z?$/;
const classicDate = /^(\d{1,2})\/(\d{1,2})\/(\d{4}) (\d{1,2}):(\d{2}):(\d{2})(?: ?([AP]M))?$/i;
const two = (n: number) => String(n).padStart(2, '0');

/**
 * An export's CreationDate as a record CreationTime (UTC, no zone, as the API writes it). Both forms are
 * accepted: `2024-05-14T08:03:11.0000000Z ` (current, trailing space included) and `9/20/2023 4:05:03 AM`
 * (classic, US month/day order). Anything else is kept as it is.
 */
export function exportCreationTime(text: string): string {
  const t = text.trim();
  const iso = isoDate.exec(t);
  if (iso) return iso[2] === undefined || /^0+$/.test(iso[2]) ? iso[1]! : `${iso[1]!}.${iso[2]}`;
  const classic = classicDate.exec(t);
  if (!classic) return t;
  const [, month, day, year, h, min, sec, half] = classic;
  let hour = Number(h);
  if (half !== undefined) hour = (hour % 12) + (half.toUpperCase() === 'PM' ? 12 : 0);
  return `${year!}-${two(Number(month))}-${two(Number(day))}T${two(hour)}:${min!}:${sec!}`;
}

type FieldsOrError = { fields: string[] } | { error: string };

/** The fields of one row (no line ends outside quotes, trailing CR removed). */
export function splitCsvRow(text: string): FieldsOrError {
  const fields: string[] = [];
  const n = text.length;
  let i = 0;
  for (;;) {
    if (text.charCodeAt(i) === QUOTE) {
      let j = i + 1;
      let doubled = false;
      for (;;) {
        const q = text.indexOf('"', j);
        if (q === -1) return { error: `unterminated quoted field in column ${fields.length + 1}` };
        if (text.charCodeAt(q + 1) === QUOTE) {
          doubled = true;
          j = q + 2;
          continue;
        }
        const body = text.slice(i + 1, q);
        fields.push(doubled ? body.replaceAll('""', '"') : body);
        i = q + 1;
        break;
      }
      if (i < n && text[i] !== ',') return { error: `unexpected character after the closing quote of column ${fields.length}` };
    } else {
      const comma = text.indexOf(',', i);
      const end = comma === -1 ? n : comma;
      fields.push(text.slice(i, end));
      i = end;
    }
    if (i >= n) return { fields };
    i++; // the comma
  }
}

interface Header {
  auditData: number;
  fallbacks: Array<readonly [column: number, field: FallbackField]>;
}

function readHeader(fields: string[]): Header | undefined {
  const names = fields.map((f) => f.trim().toLowerCase());
  const auditData = names.indexOf('auditdata');
  if (auditData === -1) return undefined;
  const fallbacks: Header['fallbacks'] = [];
  for (const [column, field] of Object.entries(fallbackColumns)) {
    const index = names.indexOf(column);
    if (index !== -1) fallbacks.push([index, field]);
  }
  return { auditData, fallbacks };
}

function fallbackValue(field: FallbackField, text: string): unknown {
  if (field === 'CreationTime') return exportCreationTime(text);
  if (field === 'RecordType') return /^-?\d+$/.test(text.trim()) ? Number(text.trim()) : text;
  return text;
}

export class PurviewCsvReader {
  private chunkStart = 0; // absolute offset of the current chunk
  private line = 1;
  private inQuotes = false;
  private pieces: Buffer[] = []; // earlier chunks' part of the current row
  private pending = 0; // bytes in pieces
  private overflow = false;
  private rowStart = 0;
  private rowLine = 1;
  private sawFirstByte = false;
  private header: Header | null | undefined; // undefined: not read yet; null: read, without AuditData

  constructor(private readonly maxRowBytes = defaultMaxRowBytes) {}

  /** Reads one chunk; the rows completed in it are appended to `out`. */
  push(chunk: Uint8Array, out: ParsedItem[]): void {
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const n = buf.length;
    let i = 0;
    if (!this.sawFirstByte && n > 0) {
      this.sawFirstByte = true;
      if (n >= 3 && buf.subarray(0, 3).equals(BOM)) this.rowStart = i = 3;
    }
    let rowFrom = i; // where the current row starts in this chunk
    let nextQuote = -2; // cached indexOf results, recomputed once passed: a row with many "" stays linear
    let nextLf = -2;
    while (i < n) {
      if (nextQuote !== -1 && nextQuote < i) nextQuote = buf.indexOf(QUOTE, i);
      if (nextLf !== -1 && nextLf < i) nextLf = buf.indexOf(LF, i);
      if (this.inQuotes) {
        const end = nextQuote === -1 ? n : nextQuote;
        while (nextLf !== -1 && nextLf < end) {
          this.line++; // a line break inside a quoted field: part of the row
          nextLf = buf.indexOf(LF, nextLf + 1);
        }
        if (nextQuote === -1) break;
        this.inQuotes = false;
        i = nextQuote + 1;
      } else if (nextLf !== -1 && (nextQuote === -1 || nextLf < nextQuote)) {
        this.endRow(buf, rowFrom, nextLf, out);
        this.line++;
        i = rowFrom = nextLf + 1;
        this.rowStart = this.chunkStart + i;
        this.rowLine = this.line;
      } else if (nextQuote !== -1) {
        this.inQuotes = true;
        i = nextQuote + 1;
      } else break;
    }
    if (rowFrom < n) this.keep(buf.subarray(rowFrom, n));
    this.chunkStart += n;
  }

  /** Call once at the end of input: the last row may lack its line end; an open quote means truncation. */
  end(out: ParsedItem[]): void {
    if (this.inQuotes) {
      this.invalid('input ended inside a quoted field (truncated)', out);
      this.reset();
    } else if (this.pending > 0 || this.overflow) {
      this.endRow(Buffer.alloc(0), 0, 0, out);
    }
  }

  private keep(part: Buffer): void {
    if (this.overflow) return;
    this.pending += part.length;
    if (this.pending > this.maxRowBytes) {
      this.overflow = true; // keep scanning for the row's end, holding nothing
      this.pieces = [];
      return;
    }
    this.pieces.push(Buffer.from(part)); // copied: the caller may reuse its buffer
  }

  private reset(): void {
    this.pieces = [];
    this.pending = 0;
    this.overflow = false;
  }

  private endRow(buf: Buffer, from: number, to: number, out: ParsedItem[]): void {
    if (this.overflow || this.pending + (to - from) > this.maxRowBytes) {
      this.invalid(`row longer than ${this.maxRowBytes} bytes`, out);
      this.reset();
      return;
    }
    const text =
      this.pieces.length === 0 ? buf.toString('utf8', from, to) : Buffer.concat([...this.pieces, buf.subarray(from, to)]).toString('utf8');
    this.reset();
    this.row(text.endsWith('\r') ? text.slice(0, -1) : text, out);
  }

  private row(text: string, out: ParsedItem[]): void {
    if (text.trim() === '') return; // blank line (the export ends with CRLF)
    const split = splitCsvRow(text);
    if ('error' in split) return this.invalid(split.error, out);
    if (this.header === undefined) {
      this.header = readHeader(split.fields) ?? null;
      if (this.header === null) this.invalid('CSV header has no AuditData column', out);
      return;
    }
    if (this.header === null) return this.invalid('no AuditData column in the header: row not decoded', out);
    const { auditData, fallbacks } = this.header;
    const json = split.fields[auditData];
    if (json === undefined) return this.invalid(`row has ${split.fields.length} field(s); AuditData is column ${auditData + 1}`, out);
    if (json.trim() === '') return this.invalid('empty AuditData', out);
    let value: unknown;
    try {
      value = JSON.parse(json);
    } catch (err) {
      return this.invalid(`invalid AuditData JSON: ${(err as Error).message}`, out);
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return this.invalid('AuditData is not a JSON object', out);
    const record = value as Record<string, unknown>;
    for (const [column, field] of fallbacks) {
      const text = split.fields[column];
      if (record[field] === undefined && text !== undefined && text.trim() !== '') record[field] = fallbackValue(field, text);
    }
    out.push({ kind: 'record', value: record, offset: this.rowStart, line: this.rowLine });
  }

  private invalid(reason: string, out: ParsedItem[]): void {
    out.push({ kind: 'invalid', reason, offset: this.rowStart, line: this.rowLine });
  }
}

/** The records of a Purview CSV export, parsed, in batches of one input chunk. */
export async function* readPurviewCsv(source: AsyncIterable<Uint8Array>, maxRowBytes?: number): AsyncGenerator<ParsedItem[]> {
  const reader = new PurviewCsvReader(maxRowBytes);
  const found: ParsedItem[] = [];
  for await (const chunk of source) {
    reader.push(chunk, found);
    if (found.length > 0) yield found.splice(0);
  }
  reader.end(found);
  if (found.length > 0) yield found;
}

/**
 * Whether a first line is a Purview export header: it starts with `RecordId,CreationDate` or names an AuditData
 * column (JSON input starts with `[` or `{` and never is). `undefined` while more bytes are needed.
 */
export function isPurviewCsvHead(head: Buffer, complete: boolean): boolean | undefined {
  let i = head.subarray(0, 3).equals(BOM) ? 3 : 0;
  while (i < head.length && (head[i] === 0x20 || head[i] === 0x09 || head[i] === 0x0d || head[i] === LF)) i++;
  if (i < head.length && (head[i] === 0x5b || head[i] === 0x7b)) return false;
  const lf = head.indexOf(LF, i);
  if (lf === -1 && !complete) return undefined;
  const first = head.toString('utf8', i, lf === -1 ? head.length : lf).toLowerCase();
  return first.startsWith('recordid,creationdate') || /(^|,)"?auditdata"?\s*(,|$)/.test(first.trimEnd());
}

/** How much of the input is looked at to find the header line before deciding it is not a CSV export. */
const maxHeadBytes = 64 * 1024;

/** Looks at the input's first line (bounded) and hands back the untouched stream with the verdict. */
export async function sniffPurviewCsv(source: AsyncIterable<Uint8Array>): Promise<{ isCsv: boolean; source: AsyncIterable<Uint8Array> }> {
  const iterator = source[Symbol.asyncIterator]();
  const seen: Uint8Array[] = [];
  let verdict: boolean | undefined;
  let done = false;
  while (verdict === undefined) {
    const next = await iterator.next();
    if (next.done) done = true;
    else seen.push(next.value);
    const head = Buffer.concat(seen);
    verdict = isPurviewCsvHead(head, done || head.length >= maxHeadBytes) ?? undefined;
  }
  async function* replay(): AsyncGenerator<Uint8Array> {
    yield* seen;
    if (done) return;
    for (let next = await iterator.next(); !next.done; next = await iterator.next()) yield next.value;
  }
  return { isCsv: verdict, source: replay() };
}
