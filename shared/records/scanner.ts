// Finds each record's boundaries in a byte stream so that JSON.parse runs per record: memory stays bounded
// by the largest record whatever the input size, and parsing keeps JSON.parse's speed. Accepts a content
// blob (a JSON array of records), one JSON object, or a sequence of objects (NDJSON). Strings and escapes
// are respected; anything at record level that is not an object is reported, never silently skipped.

export type ScanItem =
  | { kind: 'record'; text: string; offset: number; line: number }
  | { kind: 'invalid'; reason: string; offset: number; line: number };

const QUOTE = 0x22, BACKSLASH = 0x5c, LF = 0x0a, CR = 0x0d, TAB = 0x09, SPACE = 0x20, COMMA = 0x2c;
const OPEN_OBJECT = 0x7b, CLOSE_OBJECT = 0x7d, OPEN_ARRAY = 0x5b, CLOSE_ARRAY = 0x5d;

interface OpenElement {
  start: number; // absolute byte offset
  line: number;
  primitive: boolean; // not an object or array: ends at the next delimiter
  pieces: Buffer[]; // earlier chunks' part of the element
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
          // A raw newline cannot be inside a JSON string: the element is broken; resynchronise on the next line.
          this.fail('line break inside a string (truncated or malformed record)', out);
          this.line++;
          i = nextNewline + 1;
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
          else this.problem(`unexpected '${String.fromCharCode(b)}'`, this.chunkStart + i, out);
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
    if (this.element) {
      const from = Math.max(0, this.element.start - this.chunkStart);
      this.element.pieces.push(Buffer.from(buf.subarray(from, n))); // copied: the caller may reuse its buffer
    }
    this.chunkStart += n;
  }

  /** Call once at the end of input; reports a record or array that was cut off. */
  end(out: ScanItem[]): void {
    if (this.element?.primitive && !this.inString) this.finish(Buffer.alloc(0), 0, out);
    if (this.element) {
      this.problem('input ended inside a record (truncated)', this.element.start, out, this.element.line);
      this.element = null;
    } else if (this.baseLevel === 1) {
      this.problem('input ended before the closing ] of the record array (truncated)', this.chunkStart, out);
    }
  }

  private begin(index: number, primitive: boolean): void {
    this.element = { start: this.chunkStart + index, line: this.line, primitive, pieces: [] };
  }

  private finish(buf: Buffer, endIndex: number, out: ScanItem[]): void {
    const element = this.element!;
    this.element = null;
    const from = Math.max(0, element.start - this.chunkStart);
    const text =
      element.pieces.length === 0
        ? buf.toString('utf8', from, endIndex)
        : Buffer.concat([...element.pieces, buf.subarray(0, endIndex)]).toString('utf8');
    if (element.primitive) {
      const token = text.trim();
      this.problem(`not a JSON object: ${token.length > 40 ? `${token.slice(0, 40)}…` : token}`, element.start, out, element.line);
    } else {
      out.push({ kind: 'record', text, offset: element.start, line: element.line });
    }
  }

  /** Drops the broken element and resumes scanning at record level. */
  private fail(reason: string, out: ScanItem[]): void {
    this.problem(reason, this.element?.start ?? this.chunkStart, out, this.element?.line);
    this.element = null;
    this.inString = false;
    this.escaped = false;
    this.level = this.baseLevel;
  }

  private problem(reason: string, offset: number, out: ScanItem[], line = this.line): void {
    out.push({ kind: 'invalid', reason, offset, line });
  }
}

export type ParsedItem =
  | { kind: 'record'; value: Record<string, unknown>; offset: number; line: number }
  | { kind: 'invalid'; reason: string; offset: number; line: number };

function parseItem(item: ScanItem): ParsedItem {
  if (item.kind === 'invalid') return item;
  try {
    return { kind: 'record', value: JSON.parse(item.text) as Record<string, unknown>, offset: item.offset, line: item.line };
  } catch (err) {
    return { kind: 'invalid', reason: `invalid JSON: ${(err as Error).message}`, offset: item.offset, line: item.line };
  }
}

/** The records of a byte stream, parsed, in batches of one input chunk. */
export async function* readRecords(source: AsyncIterable<Uint8Array>): AsyncGenerator<ParsedItem[]> {
  const scanner = new RecordScanner();
  const found: ScanItem[] = [];
  for await (const chunk of source) {
    scanner.push(chunk, found);
    if (found.length > 0) yield found.splice(0).map(parseItem);
  }
  scanner.end(found);
  if (found.length > 0) yield found.map(parseItem);
}
