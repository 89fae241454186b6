// The batching HTTP delivery core shared by the HTTP sinks (HTTPS JSON, Splunk HEC): records are encoded one by
// one into a batch bounded by a record count and a byte size, the batch is POSTed (gzip optional) with the
// project's retry policy (backoffDelay, parseRetryAfter), and each answer is classified by the protocol into
// accepted / retry / rejected batch / configuration error. One batch is in flight at a time, so `accepted` moves
// in blob order and a batch is only counted once the destination said so: a retry never re-sends it. A batch
// rejected for good is taken apart (batch-isolation.ts) so that only its bad events reach the dead letter.
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { gzip as gzipCallback } from 'node:zlib';
import type { IncomingHttpHeaders } from 'node:http';
import { z } from 'zod';
import { systemClock, type Clock } from '../api/clock';
import { createHttpTransport, isLoopbackHttp, type HttpFailure } from '../api/http';
import { backoffDelay, parseRetryAfter, type RetryPolicy } from '../api/retry';
import { errorFields, redact, type Logger } from '../log';
import type { DecodedRecord } from '../records/decode';
import { deliverIsolating, type SpanVerdict } from './batch-isolation';
import { failureCode, isConfigurationFailure } from './connection-failure';
import { SinkError, type ContentRef, type OpenOptions, type Sink, type SinkWriter } from './sink';

const gzip = promisify(gzipCallback);

/** https anywhere; plain http only to loopback (tests, a local collector); never credentials in the URL. */
export const DestinationUrl = z
  .string()
  .url({ error: 'must be an absolute URL' })
  // zod runs these after a failed .url() too: a text that is no URL must not throw from them.
  .refine((text) => {
    const url = URL.parse(text);
    return url === null || url.protocol === 'https:' || isLoopbackHttp(url);
  }, { error: 'must be https (plain http only to 127.0.0.1, localhost or [::1])' })
  .refine((text) => {
    const url = URL.parse(text);
    return url === null || (url.username === '' && url.password === '');
  }, { error: 'must not carry credentials: name the setting that holds the token instead' });

export const SecretSettingName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { error: 'must be a setting name' });

/** Spread into a sink's schema: an inline `token` is refused with a message saying what to do instead. */
export const noInlineToken = {
  token: z.never({ error: 'secrets are never inline: name the setting that holds the token (tokenSetting)' }).optional(),
};

/** Delivery knobs every HTTP sink shares (spread into each sink's own settings schema). */
export const httpDeliveryFields = {
  /** Records per POST at most. */
  batchRecords: z.number().int().min(1).max(100_000).default(500),
  /** Uncompressed body bytes per POST at most (a single larger record still goes alone). */
  batchBytes: z.number().int().min(1024).max(100_000_000).default(1_000_000),
  /** gzip the body (`Content-Encoding: gzip`). */
  gzip: z.boolean().default(true),
  /** PEM file of an extra CA trusted besides the system store (a private CA). */
  caFile: z.string().min(1).optional(),
  /** Time allowed for one POST, sending to the end of the answer. */
  timeoutMs: z.number().int().min(100).max(600_000).default(30_000),
  /** Attempts per batch, the first included. */
  maxAttempts: z.number().int().min(1).max(20).default(6),
  /** Time one batch may spend retrying before the writer gives up with a retryable error. */
  maxRetryMs: z.number().int().min(0).max(3_600_000).default(120_000),
};

export interface HttpDelivery {
  batchRecords: number;
  batchBytes: number;
  gzip: boolean;
  caFile?: string | undefined;
  timeoutMs: number;
  maxAttempts: number;
  maxRetryMs: number;
}

/** What the destination said about one batch. */
export type Verdict =
  | { kind: 'accepted' }
  | { kind: 'retry'; reason: string; retryAfterMs?: number | undefined }
  | {
      kind: 'rejected';
      reason: string;
      /** The position in the batch of the first bad event when the destination names it (the ones before were kept). */
      firstBad?: number | undefined;
      /** Refused for its size (413), not for its data: the batch is halved, nothing is inferred. */
      tooLarge?: boolean | undefined;
    }
  | { kind: 'configuration'; reason: string };

export interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  /** The first bytes of the answer (enough for any status document), with the sink's secrets already redacted. */
  body: Buffer;
}

/** What a protocol adds to the core: how a record is written and how an answer is read. */
export interface BatchProtocol {
  /** e.g. "HTTPS JSON" — used in messages. */
  readonly label: string;
  readonly url: URL;
  readonly contentType: string;
  /** Headers besides Content-Type/Encoding/Length (the token is among them: never logged). */
  readonly headers: Record<string, string>;
  /** One record as its piece of the body. */
  encode(record: DecodedRecord, content: ContentRef): string;
  /** The body around the pieces. */
  readonly framing: Framing;
  classify(answer: Answer, nowMs: number): Verdict;
  /**
   * For protocols whose 2xx is not yet the last word (HEC indexer acknowledgement): turns an accepted answer into
   * accepted, retry (the whole batch is sent again) or a configuration error.
   */
  confirm?(answer: Answer, io: ConfirmIo): Promise<Verdict>;
}

/** What a confirm step may use: the sink's transport, clock and cancellation. */
export interface ConfirmIo {
  post(url: URL, headers: Record<string, string>, body: Buffer): Promise<Answer>;
  clock: Clock;
  signal: AbortSignal;
}

export interface Framing {
  open: string;
  separator: string;
  close: string;
}

export const framings = {
  ndjson: { open: '', separator: '\n', close: '\n' },
  array: { open: '[', separator: ',', close: ']' },
  /** Splunk HEC: JSON objects one after another (whitespace between is allowed). */
  concatenated: { open: '', separator: '\n', close: '' },
} satisfies Record<string, Framing>;

/** Generic HTTP status meaning, for answers a protocol has no better word for. Data, read top-down. */
const statusVerdicts: ReadonlyArray<readonly [test: (status: number) => boolean, kind: Verdict['kind']]> = [
  [(s) => s >= 200 && s < 300, 'accepted'],
  [(s) => s === 401 || s === 403, 'configuration'],
  // The URL is wrong for every batch, not this batch's data: dead-lettering everything would hide it.
  [(s) => s === 404 || s === 405 || s === 407, 'configuration'],
  [(s) => s === 408 || s === 429, 'retry'],
  // Bad data (400, 422, ...) and too large (413): the batch is taken apart, only what is still refused alone is
  // dead-lettered (413 never for data, so its halves are both sent).
  [(s) => s >= 400 && s < 500, 'rejected'],
  [(s) => s >= 500, 'retry'],
  // Redirects are never followed (the token must not travel elsewhere): the URL needs fixing.
  [(s) => s >= 300 && s < 400, 'configuration'],
];

export function statusVerdict(answer: Answer, nowMs: number, detail = ''): Verdict {
  const kind = statusVerdicts.find(([test]) => test(answer.status))?.[1] ?? 'retry';
  const reason = `HTTP ${answer.status}${detail === '' ? '' : `: ${detail}`}`;
  if (kind === 'accepted') return { kind };
  if (kind === 'retry') return { kind, reason, retryAfterMs: parseRetryAfter(answer.headers['retry-after'], nowMs) };
  if (kind === 'rejected') return { kind, reason, tooLarge: answer.status === 413 };
  return { kind, reason };
}

/** Whitespace folded and cut to `limit` characters, for messages. */
export function excerpt(text: string, limit = 200): string {
  const folded = text.slice(0, limit * 4).replace(/\s+/g, ' ').trim();
  return folded.length > limit ? `${folded.slice(0, limit)}…` : folded;
}

/**
 * A short, printable excerpt of an answer body for messages. The sink hands protocols answers whose secrets are
 * already redacted over the whole kept body (see post()): cutting first would leave half of an echoed token.
 */
export function answerExcerpt(body: Buffer, limit = 200): string {
  return excerpt(body.toString('utf8', 0, Math.min(body.length, limit * 4)), limit);
}

/** The answer is read to its end (so the connection can serve again) but only this much of it is kept. */
const answerLimitBytes = 64 * 1024;

/** Network trouble is a plain error here, with Node's own words: the sink turns it into a retry verdict. */
const plainFailure: HttpFailure = (_kind, detail, cause) => new Error(cause instanceof Error ? `${detail}: ${cause.message}` : detail, { cause });

/** Reads the extra CA named by the settings; a missing file is a configuration error. */
export function readCaFile(sinkName: string, caFile: string | undefined): string | undefined {
  if (caFile === undefined) return undefined;
  try {
    return readFileSync(caFile, 'utf8');
  } catch (err) {
    throw new SinkError(sinkName, `sink ${sinkName}: cannot read caFile ${caFile} (${(err as { code?: string }).code ?? 'error'})`, false, 'SINK_CONFIGURATION', { cause: err });
  }
}

/** Time and randomness, injectable so tests control them. */
export interface HttpSinkDeps {
  clock?: Clock;
  random?: () => number;
}

export interface HttpBatchSinkOptions {
  name: string;
  delivery: HttpDelivery;
  protocol: BatchProtocol;
  /** Values that must never reach a message (the token). */
  secrets: readonly string[];
  logger: Logger;
  deps?: HttpSinkDeps | undefined;
}

interface Batch {
  records: DecodedRecord[];
  pieces: string[];
  bytes: number;
}

export interface HttpBatchSink extends Sink {
  /** Closes the keep-alive connections. */
  dispose(): void;
}

export function createHttpBatchSink(options: HttpBatchSinkOptions): HttpBatchSink {
  const { name, delivery, protocol } = options;
  const clock = options.deps?.clock ?? systemClock;
  const random = options.deps?.random ?? Math.random;
  const http = createHttpTransport({ ca: readCaFile(name, delivery.caFile), maxSockets: 4, loopbackHttp: true, failure: plainFailure });
  const logger = options.logger.withSecrets(options.secrets);
  const policy: RetryPolicy = { maxAttempts: delivery.maxAttempts, baseDelayMs: 500, maxDelayMs: 30_000, maxRetryAfterMs: delivery.maxRetryMs };
  const clean = (text: string) => redact(text, options.secrets);
  const where = `${protocol.url.origin}${protocol.url.pathname}`;
  const framing = protocol.framing;
  const sepBytes = Buffer.byteLength(framing.separator);
  const frameBytes = Buffer.byteLength(framing.open) + Buffer.byteLength(framing.close);

  /** One POST; the whole exchange, sending to the end of the answer, within timeoutMs. Redirects are answers. */
  async function post(url: URL, headers: Record<string, string>, body: Buffer, signal: AbortSignal): Promise<Answer> {
    const deadline = AbortSignal.timeout(delivery.timeoutMs);
    try {
      const answer = await http.request({ method: 'POST', url, headers, body, signal: AbortSignal.any([signal, deadline]) });
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of answer.body as AsyncIterable<Buffer>) {
        if (size < answerLimitBytes) chunks.push(chunk);
        size += chunk.length;
      }
      // Redact, then cut: a receiver that echoes the token must not leak any piece of it through whatever part of
      // the answer a message quotes later, so the secrets go out of the whole kept body before anyone reads it.
      const kept = Buffer.concat(chunks).subarray(0, answerLimitBytes).toString('utf8');
      return { status: answer.status, headers: answer.headers, body: Buffer.from(clean(kept), 'utf8') };
    } catch (err) {
      throw deadline.aborted && !signal.aborted ? new Error(`no complete answer within ${delivery.timeoutMs} ms`) : err;
    }
  }

  /** One body of encoded records until the destination decides (accepted, rejected, configuration); retries inside. */
  async function send(pieces: readonly string[], signal: AbortSignal): Promise<Exclude<Verdict, { kind: 'retry' }>> {
    const io: ConfirmIo = { post: (url, headers, body) => post(url, headers, body, signal), clock, signal };
    const text = framing.open + pieces.join(framing.separator) + framing.close;
    const raw = Buffer.from(text, 'utf8');
    const body = delivery.gzip ? await gzip(raw) : raw;
    const headers: Record<string, string> = { ...protocol.headers, 'Content-Type': protocol.contentType };
    if (delivery.gzip) headers['Content-Encoding'] = 'gzip';
    const started = clock.now();
    for (let attempt = 1; ; attempt++) {
      let verdict: Verdict;
      try {
        const answer = await post(protocol.url, headers, body, signal);
        verdict = protocol.classify(answer, clock.now());
        if (verdict.kind === 'accepted' && protocol.confirm) verdict = await protocol.confirm(answer, io);
      } catch (err) {
        if (signal.aborted) throw new SinkError(name, `sink ${name}: aborted`, true, 'SINK_ABORTED');
        const code = failureCode(err);
        const reason = `${(err as Error).message ?? String(err)}${code !== undefined && !(err as Error).message?.includes(code) ? ` (${code})` : ''}`;
        // An untrusted certificate or an unknown host is a setting to fix, as in the syslog sink, not a retry.
        verdict = code !== undefined && isConfigurationFailure(code) ? { kind: 'configuration', reason } : { kind: 'retry', reason };
      }
      if (verdict.kind !== 'retry') return verdict;
      const giveUp = (why: string) =>
        new SinkError(name, clean(`${protocol.label} sink ${name}: ${where} ${why}; last answer: ${verdict.reason}`), true, undefined, {
          retryAfterMs: verdict.retryAfterMs,
        });
      if (attempt >= policy.maxAttempts) throw giveUp(`did not accept the batch after ${attempt} attempts`);
      if (verdict.retryAfterMs !== undefined && verdict.retryAfterMs > policy.maxRetryAfterMs) {
        throw giveUp(`asked to wait ${verdict.retryAfterMs} ms, longer than maxRetryMs`);
      }
      const delayMs = backoffDelay(attempt, policy, random, verdict.retryAfterMs);
      if (clock.now() + delayMs - started > delivery.maxRetryMs) throw giveUp(`did not accept the batch within maxRetryMs`);
      logger.warn('sink batch retry', { sink: name, attempt, delayMs, reason: clean(verdict.reason) });
      try {
        await clock.sleep(delayMs, signal);
      } catch {
        throw new SinkError(name, `sink ${name}: aborted`, true, 'SINK_ABORTED');
      }
    }
  }

  async function open(content: ContentRef, openOptions: OpenOptions): Promise<SinkWriter> {
    const controller = new AbortController();
    const outer = openOptions.signal;
    const onOuterAbort = () => controller.abort(outer?.reason);
    if (outer?.aborted) controller.abort(outer.reason);
    else outer?.addEventListener('abort', onOuterAbort, { once: true });
    const signal = controller.signal;

    let skip = Math.max(0, openOptions.resumeAfter);
    let accepted = skip;
    let batch: Batch = { records: [], pieces: [], bytes: frameBytes };
    let state: 'open' | 'closed' | 'aborted' = 'open';
    let failure: SinkError | undefined;
    let queue: Promise<void> = Promise.resolve();

    /**
     * Sends one batch and settles every record of it, in order: accepted, or (rejected for good, isolated from the
     * good ones around it) handed to the dead letter. Both count as dealt with; anything else throws.
     */
    const deliver = async (current: Batch) => {
      const { records, pieces } = current;
      const result = await deliverIsolating(records.length, {
        send: async (span): Promise<SpanVerdict> => {
          const verdict = await send(pieces.slice(span.start, span.end), signal);
          if (verdict.kind !== 'configuration') return verdict;
          throw new SinkError(name, clean(`${protocol.label} sink ${name}: ${where} refused the configuration: ${verdict.reason}`), false, 'SINK_CONFIGURATION');
        },
        accepted: async (span) => {
          accepted += span.end - span.start;
          await openOptions.onAccepted?.(accepted);
        },
        rejected: async (index, why) => {
          const reason = clean(`${protocol.label} sink ${name}: ${where} rejected the event: ${why}`);
          if (openOptions.rejected === undefined) throw new SinkError(name, `${reason} (and no dead letter is configured)`, false);
          // `accepted` is this record's position among the blob's records (after filtering): what identifies it.
          logger.warn('sink event rejected', { sink: name, position: accepted, reason });
          await openOptions.rejected([records[index]!], reason);
          accepted += 1;
          await openOptions.onAccepted?.(accepted);
        },
      });
      if (result.rejected > 0) logger.info('sink batch delivered around rejected events', { sink: name, records: records.length, rejected: result.rejected, requests: result.requests });
    };

    // One batch in flight while the next one fills (encoding overlaps the round trip); the next send starts
    // only once the previous batch is settled, so `accepted` moves in blob order.
    let inFlight: Promise<void> | undefined;
    const settle = async () => {
      const pending = inFlight;
      inFlight = undefined;
      await pending;
    };
    const flush = async () => {
      if (batch.records.length === 0) return;
      const current = batch;
      batch = { records: [], pieces: [], bytes: frameBytes };
      await settle();
      inFlight = deliver(current);
      inFlight.catch(() => undefined); // surfaced by the next settle()
    };

    // Calls run one after another even if a caller does not await; a failure sticks to the writer.
    const serial = (step: () => Promise<void>): Promise<void> => {
      const run = queue.then(async () => {
        if (failure) throw failure;
        if (state === 'aborted' || signal.aborted) throw new SinkError(name, `sink ${name}: aborted`, true, 'SINK_ABORTED');
        if (state === 'closed') throw new Error(`sink ${name}: the writer is closed`);
        try {
          await step();
        } catch (err) {
          const sinkError = err instanceof SinkError ? err : new SinkError(name, clean(`sink ${name}: ${(err as Error).message}`), true, undefined, { cause: err });
          if (!(err instanceof SinkError)) logger.error('sink failed', { sink: name, ...errorFields(sinkError) });
          failure = sinkError;
          throw sinkError;
        }
      });
      queue = run.catch(() => undefined);
      return run;
    };

    const release = () => outer?.removeEventListener('abort', onOuterAbort);

    return {
      get accepted() {
        return accepted;
      },
      write: (records) =>
        serial(async () => {
          for (const record of records) {
            if (skip > 0) {
              skip--; // accepted by an earlier attempt: counted already in resumeAfter
              continue;
            }
            const piece = protocol.encode(record, content);
            const size = Buffer.byteLength(piece, 'utf8') + (batch.pieces.length > 0 ? sepBytes : 0);
            if (batch.records.length > 0 && batch.bytes + size > delivery.batchBytes) await flush();
            batch.bytes += Buffer.byteLength(piece, 'utf8') + (batch.pieces.length > 0 ? sepBytes : 0);
            batch.records.push(record);
            batch.pieces.push(piece);
            if (batch.records.length >= delivery.batchRecords || batch.bytes >= delivery.batchBytes) await flush();
          }
        }),
      drain: () =>
        serial(async () => {
          await flush();
          await settle();
        }),
      close: () =>
        serial(async () => {
          await flush();
          await settle();
          state = 'closed';
          release();
        }),
      abort: async () => {
        state = 'aborted';
        batch = { records: [], pieces: [], bytes: frameBytes };
        controller.abort(new Error('writer aborted'));
        release();
        await queue;
        await inFlight?.catch(() => undefined);
      },
    };
  }

  return { name, open, dispose: () => http.close() };
}
