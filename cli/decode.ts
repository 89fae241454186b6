// o365-relay decode [--format line|json] [--include K=V,...] [--exclude K=V,...|exchangeMailboxActivity]
//                   [--max-value-length N] [FILE ... | -]
import { createReadStream } from 'node:fs';
import { contentTypes, type ContentType } from '../shared/api/content-types';
import { access } from 'node:fs/promises';
import path from 'node:path';
import { decodeStream, emptyStats, type DecodeStats, type InvalidInput } from '../shared/records/decode-stream';
import { toAuditEvent } from '../shared/records/event-json';
import { compileFilter, FilterConfig, type FilterRules, type RecordFilter } from '../shared/records/filters';
import { formatLine } from '../shared/records/line';
import { LineWriter } from './output';
import type { SinkTarget } from './sink-target';
import { SinkError } from '../shared/sinks/sink';
import { parseCommandLine } from './command-line';
import { UsageError } from './usage-error';

export const decodeUsage = `usage: o365-relay decode [--format line|json] [--include KEY=V1,V2 ...] [--exclude KEY=V1,V2 ...]
                         [--exclude exchangeMailboxActivity] [--max-value-length N] [--sink NAME] [FILE ... | -]
  Decodes audit records (a content blob, one JSON object or NDJSON, optionally gzipped) into readable lines
  or NDJSON events. KEY is one of contentType, recordType, workload, operation (globs allowed), user.
  With no FILE, or FILE -, reads standard input. --sink NAME delivers to a sink of O365_SINKS instead of
  printing (to test a SIEM connection with a fixture before going live).
  Exit code: 0 all decoded (and delivered), 1 usage or unreadable file, 2 some input was not a record,
  3 the sink rejected some records for good.`;


// A Map: the key is what the user typed, and `constructor` must not find Object's.
const ruleKeys: ReadonlyMap<string, keyof FilterRules> = new Map([
  ['contenttype', 'contentTypes'],
  ['recordtype', 'recordTypes'],
  ['workload', 'workloads'],
  ['operation', 'operations'],
  ['user', 'users'],
]);

/** Parses repeated `KEY=V1,V2` options into filter rules. */
export function parseRules(options: readonly string[], flag: string): FilterRules | undefined {
  if (options.length === 0) return undefined;
  const rules: Record<string, string[]> = {};
  for (const option of options) {
    const eq = option.indexOf('=');
    const key = eq > 0 ? ruleKeys.get(option.slice(0, eq).toLowerCase().replace(/s$/, '')) : undefined;
    if (key === undefined) throw new UsageError(`${flag} ${option}: expected KEY=V1,V2 with KEY one of contentType, recordType, workload, operation, user`);
    const values = option.slice(eq + 1).split(',').map((v) => v.trim()).filter((v) => v !== '');
    if (values.length === 0) throw new UsageError(`${flag} ${option}: no value given`);
    (rules[key] ??= []).push(...values);
  }
  return rules;
}

export function filterFromArgs(include: readonly string[], exclude: readonly string[]): RecordFilter {
  const mailboxSwitch = exclude.filter((e) => e.toLowerCase() === 'exchangemailboxactivity');
  const config = FilterConfig.safeParse({
    include: parseRules(include, '--include'),
    exclude: parseRules(exclude.filter((e) => !mailboxSwitch.includes(e)), '--exclude'),
    exchangeMailboxActivity: mailboxSwitch.length === 0,
  });
  if (!config.success) throw new UsageError(`filter: ${config.error.issues.map((i) => i.message).join('; ')}`);
  return compileFilter(config.data);
}

function contentTypeOf(file: string): ContentType | undefined {
  const base = path.basename(file).toLowerCase();
  return contentTypes.find((t) => base.startsWith(t.toLowerCase() + '.') || base === t.toLowerCase());
}

export interface DecodeIo {
  stdin: NodeJS.ReadableStream;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

export async function runDecode(argv: string[], io: DecodeIo): Promise<number> {
  const parsed = parseCommandLine({
    args: argv,
    allowPositionals: true,
    options: {
      format: { type: 'string', default: 'line' },
      include: { type: 'string', multiple: true, default: [] },
      exclude: { type: 'string', multiple: true, default: [] },
      'max-value-length': { type: 'string' },
      sink: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const { values, positionals } = parsed;
  if (values.help) {
    io.stdout.write(decodeUsage + '\n');
    return 0;
  }
  if (values.format !== 'line' && values.format !== 'json') throw new UsageError(`--format must be line or json, not ${values.format}`);
  const maxValueLength = values['max-value-length'] === undefined ? undefined : Number(values['max-value-length']);
  if (maxValueLength !== undefined && !(Number.isInteger(maxValueLength) && maxValueLength >= 16)) {
    throw new UsageError('--max-value-length must be an integer of at least 16');
  }
  const filter = filterFromArgs(values.include, values.exclude);
  const files = positionals.length === 0 ? ['-'] : positionals;
  for (const file of files) {
    if (file === '-') continue;
    try {
      await access(file);
    } catch {
      throw new UsageError(`cannot read ${file}`);
    }
  }

  // Loaded only for --sink: the sinks pull in the storage and HTTP clients.
  const sinks = values.sink === undefined ? undefined : await import('./sink-target.js');
  const target: SinkTarget | undefined = sinks?.sinkTarget(values.sink!);
  const writer = new LineWriter(io.stdout as NodeJS.WritableStream & import('node:stream').Writable);
  const totals = emptyStats();
  const problems: Array<InvalidInput & { file: string }> = [];
  let rejected = 0;
  for (const file of files) {
    const stats: DecodeStats = emptyStats();
    const source = file === '-' ? (io.stdin as AsyncIterable<Uint8Array>) : createReadStream(file);
    const batches = decodeStream(source, { filter, context: { contentType: contentTypeOf(file) }, stats });
    const delivery = target && sinks ? await target.open(sinks.fileContentRef(target.tenantId, contentTypeOf(file) ?? 'Audit.General')) : undefined;
    try {
      for await (const batch of batches) {
        if (delivery) await delivery.write(batch.records);
        else {
          for (const decoded of batch.records) {
            const line = formatLine(decoded, { maxValueLength });
            await writer.write(values.format === 'json' ? JSON.stringify(toAuditEvent(decoded, line)) : line);
          }
        }
        for (const invalid of batch.invalid) problems.push({ ...invalid, file: file === '-' ? '<stdin>' : file });
      }
      if (delivery) {
        await delivery.close();
        rejected += delivery.rejected;
        io.stderr.write(`${file}: sink ${values.sink}: ${delivery.summary()}\n`);
      }
    } catch (err) {
      await delivery?.abort();
      if (err instanceof SinkError) throw new UsageError(`sink ${err.sink}: ${err.message}`);
      throw new UsageError(`cannot read ${file}: ${(err as Error).message}`);
    }
    for (const key of Object.keys(totals) as Array<keyof DecodeStats>) totals[key] += stats[key];
  }
  await writer.flush();

  const shown = problems.slice(0, 20);
  for (const p of shown) io.stderr.write(`${p.file}: line ${p.line}, byte ${p.offset}: ${p.reason}\n`);
  if (problems.length > shown.length) io.stderr.write(`... and ${problems.length - shown.length} more\n`);
  if (problems.length > 0 || totals.withSchemaErrors > 0) {
    io.stderr.write(
      `o365-relay decode: ${totals.records} records decoded (${totals.withSchemaErrors} with schema errors, ` +
        `${totals.filtered} filtered out); ${problems.length} input(s) could not be parsed as a record\n`,
    );
  }
  // A sink's refusal is the worst news: records did not arrive where they were sent.
  return rejected > 0 ? 3 : problems.length > 0 ? 2 : 0;
}
