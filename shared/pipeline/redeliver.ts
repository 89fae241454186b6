// Re-delivery from the dead letter: each entry goes back to its sink once the sink takes it again. An entry is
// removed only when the sink accepted every record; a sink that is still down is left alone until the next run.
// Records of another tenant (sink "relay") are never forwarded.
import { errorFields, type Logger } from '../log';
import { decodeRecord } from '../records/decode';
import { relayOwnEntries, type DeadLetterEntry, type DeadLetterStore } from '../sinks/dead-letter';
import { SinkError, type Sink } from '../sinks/sink';
import type { Telemetry } from '../telemetry';

export interface RedeliverDeps {
  deadLetter: DeadLetterStore;
  /** The sink as it delivers this tenant's records (with the tenant's own token when its registry row names one). */
  sinkNamed(name: string, tenantId?: string): Sink | undefined;
  logger: Logger;
  telemetry: Telemetry;
}

export interface RedeliverReport {
  redelivered: number;
  records: number;
  left: number;
}

export async function redeliver(deps: RedeliverDeps, options: { sink?: string; since?: Date } = {}): Promise<RedeliverReport> {
  const report: RedeliverReport = { redelivered: 0, records: 0, left: 0 };
  const down = new Set<string>();
  for await (const entry of deps.deadLetter.list(options)) {
    const sink = entry.sink === relayOwnEntries ? undefined : deps.sinkNamed(entry.sink, entry.content.tenantId);
    if (!sink || down.has(entry.sink) || down.has(tenantDown(entry))) {
      report.left++;
      continue;
    }
    try {
      const rejected = await deliverEntry(deps, sink, entry);
      if (rejected === 0) {
        await deps.deadLetter.remove(entry);
        report.redelivered++;
        report.records += entry.recordCount;
        deps.telemetry.metric('deadLetter.redelivered', entry.recordCount, { sink: sink.name });
      } else {
        report.left++;
        await deps.deadLetter.noteAttempt(entry, `${rejected} record(s) rejected again`);
      }
    } catch (err) {
      report.left++;
      // A tenant's own token that cannot be read holds back that tenant's entries only, not the sink's.
      if (err instanceof SinkError && err.retryable) down.add(err.code === 'SINK_TOKEN_UNRESOLVED' ? tenantDown(entry) : entry.sink);
      await deps.deadLetter.noteAttempt(entry, err instanceof Error ? err.message : String(err)).catch(() => undefined);
      deps.logger.warn('dead-letter re-delivery failed', { sink: entry.sink, entry: entry.id, ...errorFields(err) });
    }
  }
  return report;
}

const tenantDown = (entry: DeadLetterEntry) => `${entry.sink}\n${entry.content.tenantId}`;

/** Sends one entry's records; returns how many the sink rejected again. */
async function deliverEntry(deps: RedeliverDeps, sink: Sink, entry: DeadLetterEntry): Promise<number> {
  const records = (await deps.deadLetter.read(entry)).map(decodeRecord);
  let rejected = 0;
  const writer = await sink.open(entry.content, {
    resumeAfter: 0,
    rejected: async (refused) => {
      rejected += refused.length;
    },
  });
  try {
    await writer.write(records);
    await writer.close();
  } catch (err) {
    await writer.abort();
    throw err;
  }
  return rejected;
}
