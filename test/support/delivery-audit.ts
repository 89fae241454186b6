// What one SIEM receiver got, checked against what was published: every expected record id present, nothing
// foreign, and every duplicate explained. A duplicate is allowed only where the relay could not know a batch
// had arrived: the receiver kept a batch and lost its answer, or the host was killed (SIGKILL) after a batch was
// accepted and before its progress was stored — then only the last batch of that blob in that run comes again.
import { eventId, type ReceivedRequest } from './siem-receiver';

/** One run of the host; `killedAt` when it ended with SIGKILL. */
export interface HostRun {
  startedAt: number;
  killedAt?: number;
}

export interface SinkAudit {
  /** Distinct expected ids the receiver accepted. */
  delivered: number;
  missing: string[];
  /** Accepted ids that were not published (or belong to content that must not arrive). */
  unexpected: string[];
  /** Extra copies beyond the first. */
  duplicates: number;
  byLostAnswer: number;
  byKill: number;
  unexplained: string[];
  /** Batches whose answer was lost, and (blob, killed run) pairs whose last batch came again. */
  events: { lostAnswers: number; killedBatches: number };
  /** Records in the batches that explain duplicates: the most the duplicates may add up to. */
  bound: number;
}

/**
 * `expected` maps each record id that must arrive to its content id. Requests are taken in arrival order; for a
 * repeated id the request that last carried it must explain the copy.
 */
export function auditSink(requests: readonly ReceivedRequest[], expected: ReadonlyMap<string, string>, runs: readonly HostRun[]): SinkAudit {
  const accepted = requests.filter((r) => r.outcome === 'accepted').sort((a, b) => a.n - b.n);
  const idsOf = (r: ReceivedRequest) => r.events.map((e) => eventId(e) ?? '(no id)');
  const killedRunOf = (r: ReceivedRequest) => runs.find((run) => run.killedAt !== undefined && run.startedAt <= r.receivedAt && r.receivedAt <= run.killedAt);
  const contentOf = (r: ReceivedRequest) => expected.get(idsOf(r)[0] ?? '') ?? '(unknown)';
  /** The last accepted request of each blob within each killed run. */
  const lastOfKilledRun = new Map<string, ReceivedRequest>();
  for (const r of accepted) {
    const run = killedRunOf(r);
    if (run) lastOfKilledRun.set(`${runs.indexOf(run)}\n${contentOf(r)}`, r);
  }
  const isLastOfKilledRun = (r: ReceivedRequest) => {
    const run = killedRunOf(r);
    return run !== undefined && lastOfKilledRun.get(`${runs.indexOf(run)}\n${contentOf(r)}`) === r;
  };

  const lastCarrier = new Map<string, ReceivedRequest>();
  const unexpected = new Set<string>();
  const explaining = { lostAnswer: new Set<ReceivedRequest>(), kill: new Set<ReceivedRequest>() };
  let duplicates = 0;
  let byLostAnswer = 0;
  let byKill = 0;
  const unexplained: string[] = [];
  for (const r of accepted) {
    for (const id of idsOf(r)) {
      if (!expected.has(id)) unexpected.add(id);
      const previous = lastCarrier.get(id);
      lastCarrier.set(id, r);
      if (previous === undefined) continue;
      duplicates++;
      if (previous.answerLost) {
        byLostAnswer++;
        explaining.lostAnswer.add(previous);
      } else if (isLastOfKilledRun(previous)) {
        byKill++;
        explaining.kill.add(previous);
      } else {
        const run = (q: ReceivedRequest) => runs.findIndex((x) => x.startedAt <= q.receivedAt && q.receivedAt <= (x.killedAt ?? Infinity)) + 1;
        unexplained.push(`${id} (${contentOf(r)}): first in request ${previous.n} (run ${run(previous)}), again in ${r.n} (run ${run(r)})`);
      }
    }
  }
  const explainingRequests = [...explaining.lostAnswer, ...explaining.kill];
  return {
    delivered: [...expected.keys()].filter((id) => lastCarrier.has(id)).length,
    missing: [...expected.keys()].filter((id) => !lastCarrier.has(id)),
    unexpected: [...unexpected],
    duplicates,
    byLostAnswer,
    byKill,
    unexplained,
    events: { lostAnswers: explaining.lostAnswer.size, killedBatches: explaining.kill.size },
    bound: explainingRequests.reduce((sum, r) => sum + r.events.length, 0),
  };
}
