// HTTPS JSON sink: batched POSTs of JSON events to any SIEM or collector that takes JSON (NDJSON or a JSON
// array), gzip by default, an optional token from a named setting, an optional private CA. Retries 408/429/5xx,
// timeouts and resets; 401/403 (and a wrong URL: 404/405, redirects; an untrusted certificate) are configuration
// errors; other 4xx hand that batch to the dead letter. "Accepted" means the collector answered 2xx for the batch.
import { z } from 'zod';
import { toAuditEvent } from '../records/event-json';
import { formatLine } from '../records/line';
import type { DecodedRecord } from '../records/decode';
import {
  answerExcerpt,
  createHttpBatchSink,
  DestinationUrl,
  framings,
  httpDeliveryFields,
  noInlineToken,
  SecretSettingName,
  statusVerdict,
  type BatchProtocol,
  type HttpBatchSink,
  type HttpSinkDeps,
} from './http-batches';
import type { SinkContext } from './sink';

export const HttpsJsonSinkSettings = z.object({
  /** Where batches are POSTed (https; plain http only to loopback). */
  url: DestinationUrl,
  /** `ndjson`: one event per line (application/x-ndjson); `array`: one JSON array (application/json). */
  body: z.enum(['ndjson', 'array']).default('ndjson'),
  /** `event`: the relay's JSON event (id, time, ..., line, raw); `raw`: the record exactly as Microsoft sent it. */
  format: z.enum(['event', 'raw']).default('event'),
  /** Name of the setting holding the token; sent as `<tokenHeader>: <tokenScheme> <token>`. */
  tokenSetting: SecretSettingName.optional(),
  tokenHeader: z.string().regex(/^[A-Za-z0-9-]+$/, { error: 'must be a header name' }).default('Authorization'),
  /** Put before the token; empty for a bare token (e.g. an API-key header). */
  tokenScheme: z.string().regex(/^[A-Za-z0-9-]*$/).default('Bearer'),
  ...httpDeliveryFields,
  ...noInlineToken,
});
export type HttpsJsonSinkSettings = z.infer<typeof HttpsJsonSinkSettings>;

const encoders: Record<HttpsJsonSinkSettings['format'], (record: DecodedRecord) => string> = {
  event: (record) => JSON.stringify(toAuditEvent(record, formatLine(record))),
  raw: (record) => JSON.stringify(record.raw),
};

const contentTypes: Record<HttpsJsonSinkSettings['body'], string> = {
  ndjson: 'application/x-ndjson',
  array: 'application/json',
};

export function createHttpsJsonSink(name: string, settings: HttpsJsonSinkSettings, context: SinkContext, deps?: HttpSinkDeps): HttpBatchSink {
  const token = settings.tokenSetting === undefined ? undefined : context.secret(settings.tokenSetting);
  const headers: Record<string, string> = {};
  if (token !== undefined) headers[settings.tokenHeader] = settings.tokenScheme === '' ? token : `${settings.tokenScheme} ${token}`;
  const secrets = token === undefined ? [] : [token];
  const protocol: BatchProtocol = {
    label: 'HTTPS JSON',
    url: new URL(settings.url),
    contentType: contentTypes[settings.body],
    headers,
    encode: encoders[settings.format],
    framing: framings[settings.body],
    classify: (answer, nowMs) => statusVerdict(answer, nowMs, answerExcerpt(answer.body)),
  };
  return createHttpBatchSink({ name, delivery: settings, protocol, secrets, logger: context.logger, deps });
}
