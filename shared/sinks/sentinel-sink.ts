// The Microsoft Sentinel / Azure Monitor Logs sink: records become rows of the custom table in sentinel-table.ts and
// go to a data collection rule through the Logs Ingestion API (@azure/monitor-ingestion).
//
// Decisions:
// - Batches are ours, not the library's: rows are packed into request bodies of at most `maxBatchBytes` of JSON
//   (the API takes 1 MB per call) and each batch is one `upload()` call, which the library sends as one request
//   (it splits only above 1,000,000 bytes). Batches go one after another, so `accepted` is a prefix of the blob's
//   records: a resumed delivery skips exactly the batches already accepted and never re-sends one.
// - One retry policy: the library pipeline does not retry (maxRetries 0); 429/5xx/timeouts/no answer are retried
//   here with backoffDelay/parseRetryAfter from shared/api/retry.ts, bounded in attempts and total time, then a
//   retryable SinkError. Only the logs the library reports failed (onError's failedLogs) are sent again.
// - 401/403/404 and sign-in failures other than Entra being unavailable are configuration errors (not retryable):
//   waiting does not give the identity the "Monitoring Metrics Publisher" role or fix the rule id.
//   A 400 (or another 4xx) fails the whole call for one bad row, and a 413 for its size: the batch is taken apart
//   (batch-isolation.ts: a halving search for the bad row, both halves for 413) so that only the rows still
//   refused alone go to the dead letter (`rejected`), every good row is taken in the same pass, and the sink goes on.
// - Credentials: the Function App's managed identity by default (system-assigned, or user-assigned with
//   `managedIdentityClientId`). For local runs, a client secret read from three named settings
//   (`tenantIdSetting`, `clientIdSetting`, `clientSecretSetting`). The O365_* app is not reused implicitly: it is
//   the multi-tenant app that reads customers' audit logs and should not also hold write rights to the SIEM;
//   point the three names at O365_* settings to reuse it deliberately.
import type { TokenCredential } from '@azure/core-auth';
import type { PipelinePolicy } from '@azure/core-rest-pipeline';
import { ClientSecretCredential, ManagedIdentityCredential, type ClientSecretCredentialOptions } from '@azure/identity';
import { isAggregateLogsUploadError, LogsIngestionClient, type LogsIngestionClientOptions, type LogsUploadFailure } from '@azure/monitor-ingestion';
import { z } from 'zod';
import { systemClock, type Clock } from '../api/clock';
import { backoffDelay, parseRetryAfter, type RetryPolicy } from '../api/retry';
import type { DecodedRecord } from '../records/decode';
import type { LineOptions } from '../records/line';
import { deliverIsolating } from './batch-isolation';
import { defaultStreamName, toSentinelRow, type SentinelRow } from './sentinel-table';
import { SinkError, type ContentRef, type OpenOptions, type Sink, type SinkContext, type SinkWriter } from './sink';

const guid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const settingName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,127}$/, { error: 'the NAME of an app setting' });

/** Audiences of Azure Monitor per cloud (the library's KnownMonitorAudience). */
export const monitorAudiences = ['https://monitor.azure.com', 'https://monitor.azure.us', 'https://monitor.azure.cn'] as const;
/** Entra authority hosts per cloud, for the client-secret credential. */
export const authorityHosts = ['https://login.microsoftonline.com', 'https://login.microsoftonline.us', 'https://login.chinacloudapi.cn'] as const;

/** The Logs Ingestion API takes at most 1 MB per call. */
export const maxRequestBytes = 1_000_000;

export const SentinelSinkSettings = z.object({
  /** The data collection endpoint (DCE) or the DCR's own logs ingestion endpoint. */
  endpoint: z.url({ protocol: /^https$/, error: 'endpoint: the https URL of the data collection endpoint' }),
  /** The DCR's immutable id (dcr-<32 hex>), not its resource id. */
  ruleId: z.string().regex(/^dcr-[0-9a-f]{32}$/i, { error: 'ruleId: the DCR immutable id, dcr- and 32 hex digits' }),
  /** The stream declared in the DCR. */
  streamName: z
    .string()
    .regex(/^Custom-[A-Za-z][A-Za-z0-9_]{0,62}$/, { error: 'streamName: Custom-<name>, as declared in the DCR' })
    .default(defaultStreamName),
  /** Token audience for sovereign clouds; Azure public cloud by default. */
  audience: z.enum(monitorAudiences).optional(),
  /** A user-assigned managed identity's client id (system-assigned when absent). */
  managedIdentityClientId: z.string().regex(guid, { error: 'managedIdentityClientId: a GUID' }).optional(),
  /** Local/dev sign-in with a client secret: the NAMES of the settings holding tenant id, client id and secret. */
  tenantIdSetting: settingName.optional(),
  clientIdSetting: settingName.optional(),
  clientSecretSetting: settingName.optional(),
  authorityHost: z.enum(authorityHosts).optional(),
  /** Largest request body (JSON bytes) per upload. */
  maxBatchBytes: z.number().int().min(4096).max(maxRequestBytes).default(maxRequestBytes),
  /** Largest field value; Log Analytics cuts longer values (32 KB is the workspace-wide limit). */
  maxFieldBytes: z.number().int().min(1024).max(65_536).default(32_768),
  /** Attempts per batch, the first included. */
  maxAttempts: z.number().int().min(1).max(20).default(6),
  /** Time one batch may spend on retries before the sink gives up with a retryable error. */
  maxRetryMs: z.number().int().min(0).max(600_000).default(120_000),
  requestTimeoutMs: z.number().int().min(100).max(300_000).default(30_000),
});
export type SentinelSinkSettings = z.infer<typeof SentinelSinkSettings>;

/** What tests (and the local stack) may replace; production passes nothing. */
export interface SentinelSinkDeps {
  clock?: Clock;
  random?: () => number;
  /** Replaces the credential the settings describe. */
  credential?: TokenCredential;
  /** Merged into the client-secret credential's options (a simulator's authority host, its CA). */
  credentialOptions?: ClientSecretCredentialOptions;
  /** Extra pipeline policies for the ingestion client (e.g. trusting a test CA). */
  additionalPolicies?: LogsIngestionClientOptions['additionalPolicies'];
  line?: LineOptions;
}

export function createSentinelSink(name: string, settings: SentinelSinkSettings, context: SinkContext, deps: SentinelSinkDeps = {}): Sink {
  const clock = deps.clock ?? systemClock;
  const random = deps.random ?? Math.random;
  const { credential, secrets } = deps.credential ? { credential: deps.credential, secrets: [] } : credentialFrom(name, settings, context, deps);
  const logger = context.logger.withSecrets(secrets);
  const policy: RetryPolicy = { maxAttempts: settings.maxAttempts, baseDelayMs: 500, maxDelayMs: 30_000, maxRetryAfterMs: settings.maxRetryMs };

  const timeout: PipelinePolicy = {
    name: 'o365RelayRequestTimeout',
    sendRequest(request, next) {
      request.timeout = settings.requestTimeoutMs;
      return next(request);
    },
  };
  const client = new LogsIngestionClient(settings.endpoint, credential, {
    ...(settings.audience ? { audience: settings.audience } : {}),
    // Our retry policy is the only one: the pipeline does not retry behind it.
    retryOptions: { maxRetries: 0 },
    userAgentOptions: { userAgentPrefix: 'o365-audit-relay' },
    additionalPolicies: [{ policy: timeout, position: 'perCall' }, ...(deps.additionalPolicies ?? [])],
  });
  const rowOptions = { maxFieldBytes: settings.maxFieldBytes, ...(deps.line ? { line: deps.line } : {}) };

  type Outcome = { ok: true } | { ok: false; status: number | undefined; reason: string };

  /** One batch until the service takes it, rejects it for good, or the retry budget runs out. */
  async function upload(rows: SentinelRow[], signal: AbortSignal | undefined): Promise<Outcome> {
    const started = clock.now();
    let remaining = rows;
    for (let attempt = 1; ; attempt++) {
      if (signal?.aborted) throw new SinkError(name, `sentinel sink ${name}: aborted`, true, 'SINK_ABORTED');
      const failures: LogsUploadFailure[] = [];
      try {
        await client.upload(settings.ruleId, settings.streamName, remaining, {
          maxConcurrency: 1,
          onError: (failure) => failures.push(failure),
          ...(signal ? { abortSignal: signal } : {}),
        });
        return { ok: true };
      } catch (err) {
        if (!isAggregateLogsUploadError(err)) failures.push({ failedLogs: remaining, cause: err instanceof Error ? err : new Error(String(err)) });
        else if (failures.length === 0) failures.push(...err.errors);
      }
      const first = failures[0]!;
      const failedRows = failures.flatMap((f) => f.failedLogs);
      const classified = classify(first.cause);
      if (classified.kind === 'aborted' && signal?.aborted) throw new SinkError(name, `sentinel sink ${name}: aborted`, true, 'SINK_ABORTED');
      // The pipeline reports its own request timeout as an AbortError too: that one is worth another attempt.
      const timedOut = classified.kind === 'aborted';
      const meaning: Meaning = timedOut ? { kind: 'transient', retryAfter: undefined } : classified;
      const detail = timedOut ? `no answer within ${settings.requestTimeoutMs} ms` : describe(first.cause);
      if (meaning.kind === 'configuration') {
        throw new SinkError(name, `sentinel sink ${name}: ${meaning.what} (${detail})`, false, 'SINK_REJECTED');
      }
      if (meaning.kind === 'rejected') return { ok: false, status: meaning.status, reason: `Logs Ingestion API ${detail}` };
      remaining = failedRows;
      const retryAfterMs = meaning.retryAfter === undefined ? undefined : parseRetryAfter(meaning.retryAfter, clock.now());
      const delayMs = backoffDelay(attempt, policy, random, retryAfterMs);
      const spent = clock.now() - started;
      if (attempt >= policy.maxAttempts || spent + delayMs > settings.maxRetryMs) {
        throw new SinkError(name, `sentinel sink ${name}: the Logs Ingestion API is unavailable (${detail}) after ${attempt} attempt(s)`, true);
      }
      logger.warn('sentinel sink retrying a batch', { sink: name, attempt, delayMs, failure: detail, rows: remaining.length });
      try {
        await clock.sleep(delayMs, signal);
      } catch {
        throw new SinkError(name, `sentinel sink ${name}: aborted`, true, 'SINK_ABORTED');
      }
    }
  }

  async function open(content: ContentRef, options: OpenOptions): Promise<SinkWriter> {
    const { signal, rejected } = options;
    let skip = Math.max(0, options.resumeAfter);
    let accepted = skip;
    let rows: SentinelRow[] = [];
    let records: DecodedRecord[] = [];
    let bytes = 1; // the brackets of the JSON array, less the comma the first row does not need
    let state: 'open' | 'closed' | 'aborted' = 'open';
    let failure: SinkError | undefined;
    let queue: Promise<void> = Promise.resolve();

    /**
     * Sends one batch and settles every row of it, in order: taken, or (refused for good, isolated from the good
     * rows around it) handed to the dead letter. A batch is one request (at most maxBatchBytes ≤ 1 MB, below the
     * size at which the library splits), so a refusal covers exactly the rows sent.
     */
    const send = async (batchRows: SentinelRow[], batchRecords: DecodedRecord[]) => {
      const result = await deliverIsolating(batchRows.length, {
        send: async (span) => {
          const outcome = await upload(batchRows.slice(span.start, span.end), signal);
          return outcome.ok ? { kind: 'accepted' } : { kind: 'rejected', reason: outcome.reason, tooLarge: outcome.status === 413 };
        },
        accepted: async (span) => {
          accepted += span.end - span.start;
          await options.onAccepted?.(accepted);
        },
        rejected: async (index, reason) => {
          if (!rejected) throw new SinkError(name, `sentinel sink ${name}: a record was rejected: ${reason}`, false, 'SINK_REJECTED');
          // `accepted` is this record's position among the blob's records (after filtering): what identifies it.
          logger.warn('sentinel sink rejected a record: it goes to the dead letter', { sink: name, position: accepted, reason, contentId: content.contentId });
          await rejected([batchRecords[index]!], reason);
          accepted += 1;
          await options.onAccepted?.(accepted);
        },
      });
      if (result.rejected > 0) logger.info('sentinel sink batch delivered around rejected records', { sink: name, rows: batchRows.length, rejected: result.rejected, requests: result.requests });
    };

    const flush = async () => {
      if (rows.length === 0) return;
      const batchRows = rows;
      const batchRecords = records;
      rows = [];
      records = [];
      bytes = 1;
      await send(batchRows, batchRecords);
    };

    const serial = (step: () => Promise<void>): Promise<void> => {
      const run = queue.then(async () => {
        if (failure) throw failure;
        if (state !== 'open') throw new Error(`sentinel sink ${name}: the writer is ${state}`);
        try {
          await step();
        } catch (err) {
          // Whatever failed (the destination or the dead letter), later records must not be counted past this gap.
          failure = err instanceof SinkError ? err : new SinkError(name, `sentinel sink ${name}: delivery failed`, true, 'SINK_UNAVAILABLE', { cause: err });
          throw err;
        }
      });
      queue = run.catch(() => undefined);
      return run;
    };

    return {
      get accepted() {
        return accepted;
      },
      write: (batch) =>
        serial(async () => {
          for (const record of batch) {
            if (skip > 0) {
              skip--; // accepted by an earlier delivery
              continue;
            }
            const row = toSentinelRow(record, content, rowOptions);
            const size = Buffer.byteLength(JSON.stringify(row), 'utf8') + 1;
            if (rows.length > 0 && bytes + size > settings.maxBatchBytes) await flush();
            rows.push(row);
            records.push(record);
            bytes += size;
          }
        }),
      close: () =>
        serial(async () => {
          await flush();
          state = 'closed';
        }),
      abort: async () => {
        state = 'aborted';
        rows = [];
        records = [];
      },
    };
  }

  return { name, open };
}

function credentialFrom(
  name: string,
  settings: SentinelSinkSettings,
  context: SinkContext,
  deps: SentinelSinkDeps,
): { credential: TokenCredential; secrets: string[] } {
  const names = [settings.tenantIdSetting, settings.clientIdSetting, settings.clientSecretSetting];
  const given = names.filter((n) => n !== undefined).length;
  if (given === 0) {
    const options = { retryOptions: { maxRetries: 0 } };
    const credential = settings.managedIdentityClientId
      ? new ManagedIdentityCredential(settings.managedIdentityClientId, options)
      : new ManagedIdentityCredential(options);
    return { credential, secrets: [] };
  }
  if (given !== 3) {
    throw new SinkError(name, `sentinel sink ${name}: set all of tenantIdSetting, clientIdSetting and clientSecretSetting, or none (managed identity)`, false, 'SINK_CONFIG');
  }
  const secret = context.secret(settings.clientSecretSetting!);
  const credential = new ClientSecretCredential(context.secret(settings.tenantIdSetting!), context.secret(settings.clientIdSetting!), secret, {
    ...(settings.authorityHost ? { authorityHost: settings.authorityHost } : {}),
    retryOptions: { maxRetries: 0 },
    ...deps.credentialOptions,
  });
  return { credential, secrets: [secret] };
}

type Meaning =
  | { kind: 'transient'; retryAfter: string | undefined }
  | { kind: 'rejected'; status: number | undefined }
  | { kind: 'configuration'; what: string }
  | { kind: 'aborted' };

/** Statuses that mean the sink is set up wrong, and what to tell the operator. */
const configurationStatuses: Readonly<Record<number, string>> = {
  401: 'the token was refused (check the audience and the identity)',
  403: 'the identity may not write to this rule (it needs Monitoring Metrics Publisher on the DCR)',
  404: 'the endpoint does not know this rule or stream (check endpoint, ruleId and streamName)',
};

/** OAuth errors that mean Entra is briefly unavailable; every other sign-in failure needs a person. */
const transientSignInErrors = new Set(['temporarily_unavailable', 'server_error']);

interface ErrorView {
  name?: string;
  statusCode?: number;
  code?: string;
  retryAfter?: string;
  oauthError?: string;
}

/** The fields we read from an SDK error (RestError, AuthenticationError, AbortError), duck-typed. */
function view(err: unknown): ErrorView {
  if (err === null || typeof err !== 'object') return {};
  const e = err as {
    name?: unknown;
    statusCode?: unknown;
    code?: unknown;
    response?: { headers?: { get?: (name: string) => string | undefined } };
    errorResponse?: { error?: unknown };
  };
  const retryAfter = typeof e.response?.headers?.get === 'function' ? e.response.headers.get('retry-after') : undefined;
  return {
    ...(typeof e.name === 'string' ? { name: e.name } : {}),
    ...(typeof e.statusCode === 'number' ? { statusCode: e.statusCode } : {}),
    ...(typeof e.code === 'string' ? { code: e.code } : {}),
    ...(retryAfter !== undefined ? { retryAfter } : {}),
    ...(typeof e.errorResponse?.error === 'string' ? { oauthError: e.errorResponse.error } : {}),
  };
}

function classify(err: unknown): Meaning {
  const e = view(err);
  if (e.name === 'AbortError') return { kind: 'aborted' };
  if (e.name === 'AuthenticationError' || e.name === 'CredentialUnavailableError' || e.name === 'AuthenticationRequiredError') {
    const transient =
      (e.oauthError !== undefined && transientSignInErrors.has(e.oauthError)) ||
      (e.oauthError === undefined && e.statusCode !== undefined && (e.statusCode >= 500 || e.statusCode === 429));
    return transient ? { kind: 'transient', retryAfter: undefined } : { kind: 'configuration', what: 'sign-in failed' };
  }
  const status = e.statusCode;
  if (status === undefined || status === 408 || status === 429 || status >= 500) return { kind: 'transient', retryAfter: e.retryAfter };
  const what = configurationStatuses[status];
  if (what !== undefined) return { kind: 'configuration', what };
  return { kind: 'rejected', status };
}

/** A short, secret-free description: status and the service's error code, never the message (it may hold data). */
function describe(err: unknown): string {
  const e = view(err);
  const code = e.code !== undefined && /^[A-Za-z_]{1,64}$/.test(e.code) ? ` ${e.code}` : '';
  if (e.name === 'AuthenticationError' || e.name === 'CredentialUnavailableError' || e.name === 'AuthenticationRequiredError') {
    return `sign-in: ${e.name}${e.oauthError !== undefined && /^[a-z_]{1,64}$/.test(e.oauthError) ? ` ${e.oauthError}` : ''}`;
  }
  return e.statusCode === undefined ? `no answer${code}` : `HTTP ${e.statusCode}${code}`;
}
