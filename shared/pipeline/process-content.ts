// The content worker's job for one queue message, without Azure types: claim the blob in the ledger, fetch it
// (the URL is rebuilt by the client), decode, keep only the message's tenant, filter, deliver to every sink
// that does not have it yet, and record each step. Waiting failures come back as an outcome with a delay (the
// trigger re-enqueues); deterministic failures throw, so the host retries and finally poisons the message.
// A span of the blob that is not a record costs only itself (dead letter, blob delivered-with-problems); a body
// cut short on the way is a waiting failure: fetched again, nothing of it recorded as delivered.
import { parseApiTime } from '../api-time';
import { ApiConfigurationError, apiError, ContentExpiredError, ManagementApiError } from '../api/errors';
import type { Clock } from '../api/clock';
import type { Logger } from '../log';
import { errorFields } from '../log';
import { decodeStream, emptyStats, type DecodeStats } from '../records/decode-stream';
import type { DecodedRecord } from '../records/decode';
import type { RecordFilter } from '../records/filters';
import { InputCutShortError } from '../records/input';
import { redactDetections } from '../records/redact-detections';
import type { DeadLetter } from '../sinks/dead-letter';
import { deadLetterWriter } from '../sinks/dead-letter-writer';
import { SinkError, type Sink, type SinkWriter } from '../sinks/sink';
import { StateStoreError } from '../state/store-error';
import type { Telemetry } from '../telemetry';
import { badSpans } from './bad-spans';
import { contentMessageTimes, type ContentMessage } from './content-message';
import type { Ledger, SinkProgress } from './ledger';
import { waitDelay } from './wait-delay';

export interface ContentWorkerDeps {
  ledger: Ledger;
  fetchContent(tenantId: string, contentId: string, options: { contentExpiration: string; signal?: AbortSignal; deadline?: number }): Promise<AsyncIterable<Uint8Array>>;
  /** The sinks this tenant's events go to. */
  sinksFor(tenantId: string): readonly Sink[];
  deadLetter: DeadLetter;
  filter: RecordFilter;
  /** O365_MAX_RECORD_BYTES: a bigger element goes to the dead letter streamed (default 16 MiB). */
  maxRecordBytes?: number;
  /** Replace DLP detected values before any sink sees a record (O365_REDACT_DLP_DETECTIONS, on by default). */
  redactDlpDetections?: boolean;
  clock: Clock;
  random: () => number;
  /** Who claims (an instance id plus invocation id). */
  owner: string;
  /** Longer than the function timeout, so a live worker never loses its claim. */
  claimLeaseMs: number;
  /** Epoch ms by which this invocation must be done (the function timeout minus a margin). */
  deadline: number;
  logger: Logger;
  telemetry: Telemetry;
}

/** Fetches after which a body that keeps ending inside a record is taken as malformed, not cut (see keepCut). */
export const malformedAfterCutFetches = 2;

/** Below this much time to expiry, a blob that already waited sends what its sinks refuse to the dead letter. */
export const deadLetterBeforeExpiryMs = 2 * 60 * 60_000;

export type WorkOutcome =
  /** `invalidSpans`: spans that were not records, kept in the dead letter (the ledger says delivered-with-problems). */
  | { kind: 'delivered'; stats: DecodeStats; foreignRecords: number; invalidSpans: number; sinks: string[] }
  | { kind: 'already-finished'; state: string }
  | { kind: 'expired' }
  /** Re-enqueue after `delayMs` (capped by the content's expiry), changed by `next`, and complete this message. */
  | { kind: 'wait'; delayMs: number; reason: string; next?: Pick<ContentMessage, 'cutFetches'> };

export async function processContent(message: ContentMessage, deps: ContentWorkerDeps): Promise<WorkOutcome> {
  const { ledger, clock, logger } = deps;
  const key = { tenantId: message.tenantId, contentId: message.contentId };
  const where = { tenantId: message.tenantId, contentType: message.contentType, contentId: message.contentId };
  /** Metric dimensions: the stream, never the content id (unbounded). */
  const stream = { tenantId: message.tenantId, contentType: message.contentType };
  // Checked before anything is claimed: a bad time would make every delay below NaN.
  const { createdAt, expiresAt } = contentMessageTimes(message);
  const wait = (reason: string, minimumMs = 0): WorkOutcome => ({
    kind: 'wait',
    reason,
    delayMs: Math.max(minimumMs, waitDelay(message.waits, deps.random, expiresAt - clock.now())),
  });

  const claim = await ledger.claim(message, deps.owner, deps.claimLeaseMs, clock.now());
  if (claim.kind === 'finished') return { kind: 'already-finished', state: claim.entry.state };
  if (claim.kind === 'held') return wait('another worker holds the claim', claim.until - clock.now());

  /** The sinks that should have this blob, as routed now: the receipt judges delivery against them. */
  const targets = deps.sinksFor(message.tenantId).map((s) => s.name);
  const expired = async (detail: string): Promise<WorkOutcome> => {
    await ledger.finish(key, deps.owner, 'expired', { detail, tally: { targets } });
    logger.error('content expired before delivery: data loss', { ...where, detail });
    deps.telemetry.metric('content.expired', 1, stream);
    return { kind: 'expired' };
  };
  if (expiresAt <= clock.now()) return expired('contentExpiration passed before the fetch');

  const pending = deps.sinksFor(message.tenantId).filter((s) => !claim.entry.sinks[s.name]?.done);
  // A worker that lost its claim (it stalled past the lease and another took the blob) stops sending at once:
  // two workers delivering one blob would duplicate it.
  const claimLost = new AbortController();
  let renewing = true;
  const renewal = setInterval(() => {
    ledger.renewClaim(key, deps.owner, deps.claimLeaseMs, clock.now()).then(
      (held) => {
        if (held || !renewing || claimLost.signal.aborted) return;
        logger.warn('claim lost to another worker: this attempt stops', where);
        claimLost.abort(new Error('claim lost'));
      },
      (err: unknown) => logger.warn('claim renewal failed', { ...where, ...errorFields(err) }),
    );
  }, Math.max(1000, deps.claimLeaseMs / 3));
  /** Before the worker itself ends the claim (finish, release), so that is not taken for a lost one. */
  const stopRenewing = () => {
    renewing = false;
    clearInterval(renewal);
  };
  // Each sink is delivered on its own: one that fails stops only its own share, and what every sink accepted is
  // recorded, so a retry re-sends a sink only what it has not accepted and leaves finished sinks alone.
  const deliveries: Delivery[] = [];
  const recordProgress = () =>
    Promise.all(deliveries.map((d) => ledger.recordProgress(key, deps.owner, d.sink.name, progressOf(d, d.writer.accepted, d.done))));
  const spans = badSpans(deps.deadLetter, message);
  /** The body arrived whole (the client throws on a transfer cut) but ended inside a record: counted per message. */
  let cutWhole = false;
  try {
    const body = await deps.fetchContent(message.tenantId, message.contentId, { contentExpiration: message.contentExpiration, deadline: deps.deadline });
    // Content close to expiry whose sinks kept failing: their share goes to the dead letter, to be re-delivered.
    const lastChance = message.waits > 0 && expiresAt - clock.now() < deadLetterBeforeExpiryMs;
    for (const sink of pending) {
      const resumeAfter = claim.entry.sinks[sink.name]?.accepted ?? 0;
      const delivery: Delivery = { sink, writer: idleWriter(resumeAfter), done: false, resumeAfter, deadLettered: claim.entry.sinks[sink.name]?.deadLettered ?? 0, toDeadLetter: lastChance };
      deliveries.push(delivery);
      try {
        delivery.writer = lastChance
          ? deadLetterWriter(deps.deadLetter, message, sink.name, 'sink still failing as the content nears its expiry', resumeAfter)
          : await sink.open(message, {
              resumeAfter,
              signal: claimLost.signal,
              // Progress after every accepted batch: a worker killed mid-blob re-sends at most the batch in flight.
              onAccepted: (accepted) =>
                ledger.recordProgress(key, deps.owner, sink.name, progressOf(delivery, accepted, false))
                  .catch((err: unknown) => logger.warn('could not record sink progress', { ...where, sink: sink.name, ...errorFields(err) })),
              rejected: async (records, reason) => {
                await deps.deadLetter.put(message, reason, records.map((r) => r.raw), sink.name);
                delivery.deadLettered += records.length;
                deps.telemetry.metric('records.deadLettered', records.length, { ...stream, sink: sink.name });
              },
            });
      } catch (err) {
        delivery.error = err;
      }
    }
    if (lastChance) logger.warn('content near expiry: undelivered events go to the dead letter', { ...where, sinks: pending.map((s) => s.name) });
    const stats = emptyStats();
    const foreign: DecodedRecord[] = [];
    let oldestCreation = Number.POSITIVE_INFINITY;
    const batches = decodeStream(body, { filter: deps.filter, context: { contentType: message.contentType }, stats, maxRecordBytes: deps.maxRecordBytes });
    // The client throws on a body cut in transit (early close, short Content-Length), so a body that still ends
    // inside a record arrived whole: fetched again twice (cutFetches, apart from other waits) in case the API itself
    // stumbled, then it is malformed data (a record missing its brace) and its tail is kept as a bad span instead of
    // waiting until the blob expires.
    const keepCut = (message.cutFetches ?? 0) >= malformedAfterCutFetches;
    for await (const batch of batches) {
      await spans.take(batch, { keepCut });
      // A record of another tenant in this tenant's blob is never forwarded with it.
      const mine = batch.records.filter((r) => r.common.OrganizationId?.toLowerCase() === message.tenantId || (foreign.push(r), false));
      const own = deps.redactDlpDetections ? mine.map(redactDetections) : mine;
      for (const r of own) oldestCreation = Math.min(oldestCreation, parseApiTime(r.common.CreationTime) ?? Number.POSITIVE_INFINITY);
      for (const d of deliveries) await step(d, () => d.writer.write(own));
    }
    // Cut short on the way (the body ended inside a record or before its `]`): what came before is good and the
    // sinks keep what they accepted; the rest comes with the next fetch. Not bad data: nothing is dead-lettered.
    if (spans.cut) {
      cutWhole = true;
      throw apiError('CONTENT_INTERRUPTED', { tenantId: message.tenantId, operation: 'fetch content', contentId: message.contentId, detail: `${spans.cut.reason} at byte ${spans.cut.offset}` });
    }
    if (foreign.length > 0) {
      await deps.deadLetter.put(message, 'record of another tenant (OrganizationId differs from the notification)', foreign.map((r) => r.raw));
      deps.telemetry.metric('records.foreignTenant', foreign.length, stream);
    }
    for (const d of deliveries) {
      await step(d, () => d.writer.close());
      if (d.error === undefined) d.done = true;
    }
    const failed = deliveries.filter((d) => d.error !== undefined);
    if (failed.length > 0) {
      await recordProgress();
      // The worst failure decides: one that waiting cannot help poisons the message; otherwise the blob waits.
      throw failed.find((d) => !isWaitingFailure(d.error))?.error ?? failed[0]!.error;
    }
    stopRenewing();
    const invalidSpans = spans.kept;
    const tally = { targets, records: stats.records, filtered: stats.filtered };
    // Every sink's final progress goes with the state, in the finishing write.
    const progress = Object.fromEntries(deliveries.map((d) => [d.sink.name, progressOf(d, d.writer.accepted, d.done)]));
    if (invalidSpans > 0) {
      const first = spans.first!;
      const detail = `${invalidSpans} span(s) not records, kept in the dead letter; the first at byte ${first.offset}: ${first.reason.slice(0, 200)}`;
      await ledger.finish(key, deps.owner, 'delivered-with-problems', { detail, tally, progress });
      logger.warn('content blob has spans that are not records: the good records are delivered, those spans kept in the dead letter', { ...where, invalidSpans, firstOffset: first.offset, firstReason: first.reason.slice(0, 200) });
    } else await ledger.finish(key, deps.owner, 'delivered', { tally, progress });
    reportDelivered(deps.telemetry, stream, {
      stats,
      invalidSpans,
      perSink: deliveries.map((d) => ({ sink: d.sink.name, records: Math.max(0, d.writer.accepted - (claim.entry.sinks[d.sink.name]?.accepted ?? 0)), deadLettered: lastChance })),
      lagContentCreatedMs: clock.now() - createdAt,
      lagCreationTimeMs: clock.now() - oldestCreation,
    });
    return { kind: 'delivered', stats, foreignRecords: foreign.length, invalidSpans, sinks: pending.map((s) => s.name) };
  } catch (err) {
    await spans.abort();
    // A body cut short: every record before the cut is whole and good, so resuming sinks finish sending them (their
    // batch in flight is not abandoned to come again) and the next fetch resumes after them. Other failures abort.
    const cutShort = (err instanceof ManagementApiError && err.code === 'CONTENT_INTERRUPTED') || err instanceof InputCutShortError;
    if (cutShort && !claimLost.signal.aborted) {
      await Promise.allSettled(deliveries.filter((d) => !d.done && d.error === undefined).map((d) => step(d, async () => d.writer.drain?.())));
    }
    await Promise.allSettled(deliveries.filter((d) => !d.done).map((d) => d.writer.abort()));
    await recordProgress().catch((progressErr: unknown) => logger.warn('could not record sink progress', { ...where, ...errorFields(progressErr) }));
    stopRenewing();
    if (err instanceof ContentExpiredError) return expired(err.message);
    // The blob is another worker's now; this message comes back later and finds it finished (or the claim free).
    if (claimLost.signal.aborted || (err instanceof StateStoreError && err.code === 'CLAIM_LOST')) return wait('another worker took the claim');
    await ledger.release(key, deps.owner).catch(() => undefined);
    if (!isWaitingFailure(err)) throw err;
    deps.telemetry.metric('content.waits', 1, { ...stream, code: String((err as { code?: unknown } | undefined)?.code ?? 'unknown') });
    logger.warn('content delivery will be retried later', { ...where, waits: message.waits, ...errorFields(err) });
    // A configuration problem needs a person: wait long, but keep the content until it expires. A Retry-After the
    // client did not wait for in-process is the least we wait.
    const retryAfterMs = err instanceof ManagementApiError || err instanceof SinkError ? (err.retryAfterMs ?? 0) : 0;
    const needsPerson = err instanceof ApiConfigurationError || (err instanceof SinkError && !err.retryable);
    const outcome = wait(err instanceof Error ? err.message : String(err), Math.max(retryAfterMs, needsPerson ? 15 * 60_000 : 0));
    return cutWhole && outcome.kind === 'wait' ? { ...outcome, next: { cutFetches: (message.cutFetches ?? 0) + 1 } } : outcome;
  } finally {
    stopRenewing();
  }
}

interface Delivery {
  sink: Sink;
  writer: SinkWriter;
  done: boolean;
  /** Accepted by earlier attempts. */
  resumeAfter: number;
  /** Records of this sink's share in the dead letter (earlier attempts included), for the receipt. */
  deadLettered: number;
  /** This attempt writes the sink's share to the dead letter (near expiry). */
  toDeadLetter: boolean;
  error?: unknown;
}

/** A sink's progress as the ledger keeps it; near expiry all it accepts this attempt is dead-lettered. */
function progressOf(d: Delivery, accepted: number, done: boolean): SinkProgress {
  const deadLettered = d.deadLettered + (d.toDeadLetter ? Math.max(0, accepted - d.resumeAfter) : 0);
  return { accepted, done, ...(deadLettered > 0 ? { deadLettered } : {}) };
}

/** Runs one step of a sink's delivery; a failure ends that sink's share and is kept, the others go on. */
async function step(delivery: Delivery, action: () => Promise<void>): Promise<void> {
  if (delivery.error !== undefined) return;
  try {
    await action();
  } catch (err) {
    delivery.error = err;
    await delivery.writer.abort().catch(() => undefined);
  }
}

/** Stands in for a writer whose sink could not be opened: it has accepted what earlier attempts delivered. */
function idleWriter(accepted: number): SinkWriter {
  return { write: async () => undefined, close: async () => undefined, abort: async () => undefined, accepted };
}

/** Failures that waiting can help: throttling, a sink or store that is down, a configuration a person must fix. */
function isWaitingFailure(err: unknown): boolean {
  return (
    (err instanceof ManagementApiError && (err.retryable || err instanceof ApiConfigurationError)) ||
    // A sink that refuses our configuration (a wrong token) waits like an API configuration problem: near the
    // content's expiry its share goes to the dead letter, and re-delivery sends it once the setting is fixed.
    err instanceof SinkError ||
    (err as { retryable?: unknown } | undefined)?.retryable === true
  );
}

/**
 * What one delivered blob adds to the metrics. Lags are raw values in ms (Application Insights aggregates the
 * percentiles): contentCreated is when the API published the blob, CreationTime that of its oldest own record.
 */
function reportDelivered(
  telemetry: Telemetry,
  stream: { tenantId: string; contentType: string },
  blob: { stats: DecodeStats; invalidSpans: number; perSink: Array<{ sink: string; records: number; deadLettered: boolean }>; lagContentCreatedMs: number; lagCreationTimeMs: number },
): void {
  telemetry.metric('blobs.processed', 1, stream);
  telemetry.metric('records.in', blob.stats.records, stream);
  telemetry.metric('records.filtered', blob.stats.filtered, stream);
  if (blob.stats.withSchemaErrors > 0) telemetry.metric('records.schemaErrors', blob.stats.withSchemaErrors, stream);
  if (blob.invalidSpans > 0) telemetry.metric('records.invalid', blob.invalidSpans, stream);
  for (const { sink, records, deadLettered } of blob.perSink) telemetry.metric(deadLettered ? 'records.deadLettered' : 'records.delivered', records, { ...stream, sink });
  if (Number.isFinite(blob.lagContentCreatedMs)) telemetry.metric('lag.contentCreated', blob.lagContentCreatedMs, stream);
  if (Number.isFinite(blob.lagCreationTimeMs)) telemetry.metric('lag.creationTime', blob.lagCreationTimeMs, stream);
}
