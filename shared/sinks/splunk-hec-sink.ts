// Splunk HTTP Event Collector sink: batches of `{time, host, source, sourcetype, index?, event}` objects POSTed
// to /services/collector/event with `Authorization: Splunk <token>`. Answers are read by HEC's own status code
// (the `code` in the JSON answer), falling back to the HTTP status. Without indexer acknowledgement, "accepted"
// means HEC answered code 0: it parsed the batch and took it in, not that it is indexed yet; with `useAck` it
// means HEC reported the batch's ackId indexed (polled on /services/collector/ack, one channel per sink).
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import { z } from 'zod';
import { parseRetryAfter } from '../api/retry';
import { toAuditEvent, utcTime } from '../records/event-json';
import { formatLine } from '../records/line';
import type { DecodedRecord } from '../records/decode';
import {
  answerExcerpt,
  createHttpBatchSink,
  excerpt,
  DestinationUrl,
  framings,
  httpDeliveryFields,
  noInlineToken,
  SecretSettingName,
  statusVerdict,
  type Answer,
  type BatchProtocol,
  type ConfirmIo,
  type HttpBatchSink,
  type HttpSinkDeps,
  type Verdict,
} from './http-batches';
import type { ContentRef, SinkContext } from './sink';

const metadataText = z.string().min(1).max(1024);

export const SplunkHecSinkSettings = z.object({
  /** The HEC base URL, e.g. https://splunk.example.com:8088 (the event endpoint path is added). */
  url: DestinationUrl,
  /** Name of the setting holding the HEC token. */
  tokenSetting: SecretSettingName,
  sourcetype: metadataText.default('o365:management:activity'),
  /** Default `o365-audit-relay:<contentType>`. */
  source: metadataText.optional(),
  /** Default this machine's host name. */
  host: metadataText.optional(),
  /** Default: the token's default index. */
  index: metadataText.optional(),
  /** `event`: the relay's JSON event; `raw`: the record exactly as Microsoft sent it. */
  format: z.enum(['event', 'raw']).default('event'),
  /**
   * Indexer acknowledgement (the token must have it enabled): a batch counts as accepted only once HEC says it is
   * indexed; one not acknowledged within ackTimeoutMs is sent again.
   */
  useAck: z.boolean().default(false),
  ackPollMs: z.number().int().min(10).max(60_000).default(1_000),
  ackTimeoutMs: z.number().int().min(100).max(600_000).default(60_000),
  ...httpDeliveryFields,
  ...noInlineToken,
});
export type SplunkHecSinkSettings = z.infer<typeof SplunkHecSinkSettings>;

export const hecEventPath = '/services/collector/event';
export const hecAckPath = '/services/collector/ack';

/**
 * HEC status codes (Splunk's "Troubleshoot HTTP Event Collector" table) and what each means for a batch.
 * Code 10 (data channel missing) and 11/14 come from a token with indexer acknowledgement enabled, which this
 * sink does not use: the token's settings are wrong for it.
 */
export const hecCodeVerdicts: Readonly<Record<number, Verdict['kind']>> = {
  0: 'accepted', // Success
  1: 'configuration', // Token disabled (403)
  2: 'configuration', // Token is required (401)
  3: 'configuration', // Invalid authorization (401)
  4: 'configuration', // Invalid token (403)
  5: 'rejected', // No data (400)
  6: 'rejected', // Invalid data format (400)
  7: 'configuration', // Incorrect index (400): every batch would fail the same way
  8: 'retry', // Internal server error (500)
  9: 'retry', // Server is busy (503)
  10: 'configuration', // Data channel is missing (400): the token requires indexer acknowledgement
  11: 'configuration', // Invalid data channel (400)
  12: 'rejected', // Event field is required (400)
  13: 'rejected', // Event field cannot be blank (400)
  14: 'configuration', // ACK is disabled (400)
  15: 'rejected', // Error in handling indexed fields (400)
  16: 'configuration', // Query string authorization is not enabled (400)
  17: 'retry', // HEC is healthy — a health answer, not an event acceptance: not counted as delivered
  18: 'retry', // HEC is unhealthy, queues are full (503)
  19: 'retry', // HEC is unhealthy, ack service unavailable (503)
  20: 'retry', // HEC is unhealthy, queues are full, ack service unavailable (503)
};

const HecAnswer = z
  .object({ code: z.number().int(), text: z.string().optional(), 'invalid-event-number': z.number().optional(), ackId: z.number().int().optional() })
  .loose();
const HecAckAnswer = z.object({ acks: z.record(z.string(), z.boolean()) });

function parseHecAnswer(body: Buffer): z.infer<typeof HecAnswer> | undefined {
  try {
    const parsed = HecAnswer.safeParse(JSON.parse(body.toString('utf8')));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

export function classifyHecAnswer(answer: Answer, nowMs: number): Verdict {
  const hec = parseHecAnswer(answer.body);
  const kind = hec === undefined ? undefined : hecCodeVerdicts[hec.code];
  if (hec === undefined || kind === undefined) return statusVerdict(answer, nowMs, answerExcerpt(answer.body));
  // A success code with an error status (or the reverse) is not trusted as acceptance.
  if (kind === 'accepted') return answer.status >= 200 && answer.status < 300 ? { kind } : statusVerdict(answer, nowMs, answerExcerpt(answer.body));
  const invalidEvent = hec['invalid-event-number'];
  const invalid = invalidEvent === undefined ? '' : ` (invalid event number ${invalidEvent})`;
  const reason = `HTTP ${answer.status}, HEC code ${hec.code}: ${excerpt(hec.text ?? '')}${invalid}`;
  if (kind === 'retry') return { kind, reason, retryAfterMs: parseRetryAfter(answer.headers['retry-after'], nowMs) };
  // HEC names the first event it could not take: the zero-based index of the first invalid event of a batch
  // (Splunk REST API reference, HecResponse `invalid-event-number`: "For batched events, the index of the first
  // invalid event"; codes 6/12/13/15 in "Troubleshoot HTTP Event Collector"). HEC reads a batch in order and the
  // events before that one were taken in, so only it is dead-lettered and the rest after it is sent again.
  if (kind === 'rejected') return { kind, reason, firstBad: invalidEvent, tooLarge: answer.status === 413 };
  return { kind, reason };
}

/**
 * Polls /services/collector/ack until HEC reports the batch's ackId indexed. Network trouble while polling is
 * waited out; silence until ackTimeoutMs means the batch may be lost, so it is sent again (at-least-once).
 */
function ackConfirmation(ackUrl: URL, headers: Record<string, string>, pollMs: number, timeoutMs: number) {
  return async (answer: Answer, io: ConfirmIo): Promise<Verdict> => {
    const ackId = parseHecAnswer(answer.body)?.ackId;
    if (ackId === undefined) return { kind: 'configuration', reason: 'HEC answered without an ackId: indexer acknowledgement is not enabled on the token (set useAck: false)' };
    const body = Buffer.from(JSON.stringify({ acks: [ackId] }));
    const deadline = io.clock.now() + timeoutMs;
    let last = 'no answer yet';
    while (io.clock.now() < deadline) {
      await io.clock.sleep(pollMs, io.signal);
      let polled: Answer;
      try {
        polled = await io.post(ackUrl, headers, body);
      } catch (err) {
        if (io.signal.aborted) throw err;
        last = (err as Error).message;
        continue;
      }
      const verdict = classifyHecAnswer(polled, io.clock.now());
      if (verdict.kind === 'configuration') return verdict;
      if (verdict.kind !== 'accepted') {
        last = verdict.reason;
        continue;
      }
      let acks: Record<string, boolean> | undefined;
      try {
        acks = HecAckAnswer.parse(JSON.parse(polled.body.toString('utf8'))).acks;
      } catch {
        last = `unreadable ack answer: ${answerExcerpt(polled.body)}`;
        continue;
      }
      if (acks[String(ackId)] === true) return { kind: 'accepted' };
      last = `ackId ${ackId} not indexed yet`;
    }
    return { kind: 'retry', reason: `no indexer acknowledgement within ${timeoutMs} ms (${last})` };
  };
}

/** CreationTime (UTC, no zone) as epoch seconds with milliseconds; undefined lets HEC use the arrival time. */
export function hecTime(record: DecodedRecord): number | undefined {
  const text = utcTime(record.common.CreationTime);
  const ms = text === null ? NaN : Date.parse(text);
  return Number.isNaN(ms) ? undefined : ms / 1000;
}

const payloads: Record<SplunkHecSinkSettings['format'], (record: DecodedRecord) => unknown> = {
  event: (record) => toAuditEvent(record, formatLine(record)),
  raw: (record) => record.raw,
};

export function createSplunkHecSink(name: string, settings: SplunkHecSinkSettings, context: SinkContext, deps?: HttpSinkDeps): HttpBatchSink {
  const token = context.secret(settings.tokenSetting);
  const base = new URL(settings.url);
  const endpoint = (path: string) => new URL(base.pathname.replace(/\/+$/, '') + path, base);
  const url = endpoint(hecEventPath);
  const headers: Record<string, string> = { Authorization: `Splunk ${token}` };
  // One channel per sink instance: HEC keys ackIds by channel.
  if (settings.useAck) headers['X-Splunk-Request-Channel'] = randomUUID();
  const host = settings.host ?? os.hostname();
  const payload = payloads[settings.format];
  const encode = (record: DecodedRecord, content: ContentRef): string =>
    JSON.stringify({
      time: hecTime(record),
      host,
      source: settings.source ?? `o365-audit-relay:${content.contentType}`,
      sourcetype: settings.sourcetype,
      index: settings.index,
      event: payload(record),
    });
  const protocol: BatchProtocol = {
    label: 'Splunk HEC',
    url,
    contentType: 'application/json',
    headers,
    encode,
    framing: framings.concatenated,
    classify: classifyHecAnswer,
  };
  if (settings.useAck) {
    protocol.confirm = ackConfirmation(endpoint(hecAckPath), { ...headers, 'Content-Type': 'application/json' }, settings.ackPollMs, settings.ackTimeoutMs);
  }
  return createHttpBatchSink({ name, delivery: settings, protocol, secrets: [token], logger: context.logger, deps });
}
