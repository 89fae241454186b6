// Finds each record's boundaries in a byte stream so that JSON.parse runs per record: memory stays bounded
// by the record size cap whatever the input size, and parsing keeps JSON.parse's speed. Accepts a content
// blob (a JSON array of records), one JSON object, or a sequence of objects (NDJSON). Strings and escapes
// are respected; anything at record level that is not an object is reported with its text, never silently
// skipped. An element over the cap is handed on in pieces as it arrives, never held whole; input that ends
// inside an element (or before the array's `]`) is reported as cut short, which is not the same as bad data.

/** O365_MAX_RECORD_BYTES's default: larger elements are never held (a record that size is not an audit event). */
export const defaultMaxRecordBytes = 16 * 1024 * 1024;

export type ScanItem =
  | { kind: 'record'; text: string; offset: number; line: number }
  /** A complete element that is not a record; `text` is its text (never more than the cap), for the dead letter. */
  | { kind: 'invalid'; reason: string; offset: number; line: number; text: string }
  /** A piece of an element over the cap, in input order: a view that is valid until the next push. */
  | { kind: 'oversize'; offset: number; line: number; bytes: Buffer }
  /** The end of an element over the cap, whose pieces came before; `size` is its length in bytes. */
  | { kind: 'oversize-end'; reason: string; offset: number; line: number; size: number }
  /**
   * The input ended inside an element or before the array's closing `]`: cut short, not bad data. `text` is what
   * was held of the element (absent when it was over the cap, whose pieces came before as `oversize`).
   */
  | { kind: 'truncated'; reason: string; offset: number; line: number; text?: string };

const QUOTE = 0x22, BACKSLASH = 0x5c, LF = 0x0a, CR = 0x0d, TAB = 0x09, SPACE = 0x20, COMMA = 0x2c;
const OPEN_OBJECT = 0x7b, CLOSE_OBJECT = 0x7d, OPEN_ARRAY = 0x5b, CLOSE_ARRAY = 0x5d;

interface OpenElement {
  start: number; // absolute byte offset
  line: number;
  primitive: boolean; // not an object or array: ends at the next delimiter
  pieces: Buffer[]; // earlier chunks' part of the element
  held: number; // bytes in pieces
  oversize: boolean; // over the cap: its pieces are handed on as they arrive, none held
}

export class RecordScanner {
  private chunkStart = 0; // absolute offset of the current chunk
  private line = 1;
  private level = 0; // open brackets
  private baseLevel = 0; // 1 inside a top-level array, where records are its elements
  private inString = false;
  private escaped = false;
  private element: OpenElement | null = null;
  private sawFirstByte = false;

  constructor(private readonly maxRecordBytes = defaultMaxRecordBytes) {}

  /** Bytes held of the element being read: never more than the cap (the memory bound, for tests). */
  get heldBytes(): number {
    return this.element?.held ?? 0;
  }

  /** Scans one chunk; complete records and problems found in it are appended to `out`. */
  push(chunk: Uint8Array, out: ScanItem[]): void {
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const n = buf.length;
    let i = 0;
    if (!this.sawFirstByte && n > 0) {
      this.sawFirstByte = true;
      if (n >= 3 && buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf) i = 3; // UTF-8 BOM
    }
    let nextBackslash = -2; // cached indexOf results, recomputed once passed
    let nextNewline = -2;
    while (i < n) {
      if (this.inString) {
        if (this.escaped) {
          this.escaped = false;
          i++;
          continue;
        }
        const quote = buf.indexOf(QUOTE, i);
        if (nextBackslash !== -1 && nextBackslash < i) nextBackslash = buf.indexOf(BACKSLASH, i);
        if (nextNewline !== -1 && nextNewline < i) nextNewline = buf.indexOf(LF, i);
        const end = quote === -1 ? n : quote;
        if (nextNewline !== -1 && nextNewline < end && (nextBackslash === -1 || nextNewline < nextBackslash)) {
          this.line++;
          i = nextNewline + 1;
          // In a record array the line break is its record's own fault (JSON.parse reports it): resynchronising
          // there would split the array mid-record. In NDJSON a line is a record, so the next line starts afresh.
          if (this.baseLevel === 0) this.fail('line break inside a string (truncated or malformed record)', buf, nextNewline, out);
          continue;
        }
        if (nextBackslash !== -1 && nextBackslash < end) {
          i = nextBackslash + 1;
          this.escaped = true;
          continue;
        }
        if (quote === -1) {
          i = n;
          break;
        }
        this.inString = false;
        i = quote + 1;
        if (this.element?.primitive && this.level === this.baseLevel) this.finish(buf, i, out);
        continue;
      }
      const b = buf[i]!;
      if (b === QUOTE) {
        if (this.element === null && this.level === this.baseLevel) this.begin(i, true);
        this.inString = true;
        i++;
      } else if (b === OPEN_OBJECT || b === OPEN_ARRAY) {
        if (this.element?.primitive) this.finish(buf, i, out);
        if (b === OPEN_ARRAY && this.level === 0 && this.element === null) {
          this.level = this.baseLevel = 1; // a content blob: records are the array's elements
        } else {
          if (this.element === null && this.level === this.baseLevel) this.begin(i, false);
          this.level++;
        }
        i++;
      } else if (b === CLOSE_OBJECT || b === CLOSE_ARRAY) {
        if (this.element?.primitive) this.finish(buf, i, out);
        if (this.level === this.baseLevel) {
          if (this.baseLevel === 1 && b === CLOSE_ARRAY) this.level = this.baseLevel = 0;
          else out.push({ kind: 'invalid', reason: `unexpected '${String.fromCharCode(b)}'`, offset: this.chunkStart + i, line: this.line, text: String.fromCharCode(b) });
        } else {
          this.level--;
          if (this.level === this.baseLevel && this.element) this.finish(buf, i + 1, out);
        }
        i++;
      } else if (b === SPACE || b === LF || b === CR || b === TAB || b === COMMA) {
        // A stray token runs to the end of its line or element, so one bad NDJSON line is one problem.
        if (this.element?.primitive && (b === LF || b === COMMA)) this.finish(buf, i, out);
        if (b === LF) this.line++;
        i++;
      } else {
        if (this.element === null && this.level === this.baseLevel) this.begin(i, true);
        i++;
      }
    }
    if (this.element) this.keep(this.element, buf.subarray(Math.max(0, this.element.start - this.chunkStart), n), out);
    this.chunkStart += n;
  }

  /** Call once at the end of input; reports an element or array that was cut off. */
  end(out: ScanItem[]): void {
    // A value after the last NDJSON line ends with the input; in an array that was never closed it may be cut.
    if (this.element?.primitive && !this.inString && this.baseLevel === 0) this.finish(Buffer.alloc(0), 0, out);
    if (this.element) {
      const { start: offset, line, oversize, pieces } = this.element;
      const reason = 'input ended inside a record (truncated)';
      out.push(oversize ? { kind: 'truncated', reason, offset, line } : { kind: 'truncated', reason, offset, line, text: Buffer.concat(pieces).toString('utf8') });
      this.element = null;
    } else if (this.baseLevel === 1) {
      out.push({ kind: 'truncated', reason: 'input ended before the closing ] of the record array (truncated)', offset: this.chunkStart, line: this.line });
    }
  }

  private begin(index: number, primitive: boolean): void {
    this.element = { start: this.chunkStart + index, line: this.line, primitive, pieces: [], held: 0, oversize: false };
  }

  /** Keeps the part of an open element this chunk holds, or hands it on once the element is over the cap. */
  private keep(element: OpenElement, part: Buffer, out: ScanItem[]): void {
    if (!element.oversize && element.held + part.length > this.maxRecordBytes) this.spill(element, out);
    if (element.oversize) {
      if (part.length > 0) out.push({ kind: 'oversize', offset: element.start, line: element.line, bytes: part });
    } else {
      element.pieces.push(Buffer.from(part)); // copied: the caller may reuse its buffer
      element.held += part.length;
    }
  }

  /** From now on the element's bytes are handed on, not held: first what is held so far. */
  private spill(element: OpenElement, out: ScanItem[]): void {
    element.oversize = true;
    for (const bytes of element.pieces) out.push({ kind: 'oversize', offset: element.start, line: element.line, bytes });
    element.pieces = [];
    element.held = 0;
  }

  /** The element ends at `endIndex` of `buf`: a record, or a problem (`reason`, or not an object) with its text. */
  private finish(buf: Buffer, endIndex: number, out: ScanItem[], reason?: string): void {
    const element = this.element!;
    this.element = null;
    const from = Math.max(0, element.start - this.chunkStart);
    const size = this.chunkStart + endIndex - element.start;
    const { start: offset, line } = element;
    if (size > this.maxRecordBytes) {
      if (!element.oversize) this.spill(element, out);
      if (endIndex > from) out.push({ kind: 'oversize', offset, line, bytes: buf.subarray(from, endIndex) });
      const what = reason ?? (element.primitive ? 'not a JSON object' : `record larger than O365_MAX_RECORD_BYTES (${this.maxRecordBytes})`);
      out.push({ kind: 'oversize-end', reason: `${what}: ${size} bytes`, offset, line, size });
      return;
    }
    const text =
      element.pieces.length === 0
        ? buf.toString('utf8', from, endIndex)
        : Buffer.concat([...element.pieces, buf.subarray(0, endIndex)]).toString('utf8');
    if (reason !== undefined) out.push({ kind: 'invalid', reason, offset, line, text });
    else if (element.primitive) {
      const token = text.trim();
      out.push({ kind: 'invalid', reason: `not a JSON object: ${token.length > 40 ? `${token.slice(0, 40)}…` : token}`, offset, line, text: token });
    } else {
      out.push({ kind: 'record', text, offset, line });
    }
  }

  /** Reports the broken element (up to `endIndex`) and resumes scanning at record level. */
  private fail(reason: string, buf: Buffer, endIndex: number, out: ScanItem[]): void {
    if (this.element) this.finish(buf, endIndex, out, reason);
    this.inString = false;
    this.escaped = false;
    this.level = this.baseLevel;
  }
}

export type ParsedItem =
  | { kind: 'record'; value: Record<string, unknown>; offset: number; line: number }
  /** Not a record; `text` is the span's text where the reader keeps it (the scanner does, up to the cap). */
  | { kind: 'invalid'; reason: string; offset: number; line: number; text?: string }
  | Extract<ScanItem, { kind: 'oversize' | 'oversize-end' | 'truncated' }>;

function parseItem(item: ScanItem): ParsedItem {
  if (item.kind !== 'record') return item;
  let value: unknown;
  try {
    value = JSON.parse(item.text);
  } catch (err) {
    return { kind: 'invalid', reason: `invalid JSON: ${(err as Error).message}`, offset: item.offset, line: item.line, text: item.text };
  }
  // An array at record level (`[[...], {...}]`): balanced, but not a record.
  if (Array.isArray(value)) return { kind: 'invalid', reason: 'not a JSON object: an array', offset: item.offset, line: item.line, text: item.text };
  return { kind: 'record', value: value as Record<string, unknown>, offset: item.offset, line: item.line };
}

/** The records of a byte stream, parsed, in batches of one input chunk. */
export async function* readRecords(source: AsyncIterable<Uint8Array>, maxRecordBytes?: number): AsyncGenerator<ParsedItem[]> {
  const scanner = new RecordScanner(maxRecordBytes);
  const found: ScanItem[] = [];
  for await (const chunk of source) {
    scanner.push(chunk, found);
    if (found.length > 0) yield found.splice(0).map(parseItem);
  }
  scanner.end(found);
  if (found.length > 0) yield found.map(parseItem);
}
