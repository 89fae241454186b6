// The content worker's dependencies as the worker tests build them: the parts a test is about (ledger, sinks,
// dead letter, clock, logger...) passed in, everything else fixed, and the content blob served from memory.
import { systemClock } from '../../shared/api/clock';
import { createLogger } from '../../shared/log';
import type { ContentWorkerDeps } from '../../shared/pipeline/process-content';
import { compileFilter } from '../../shared/records/filters';
import { noTelemetry } from '../../shared/telemetry';

export type WorkerDepsParts = Pick<ContentWorkerDeps, 'ledger'> & Partial<ContentWorkerDeps> & {
  /** The records the content blob holds (served as one JSON array); ignored when fetchContent is given. */
  records?: readonly unknown[];
};

export function workerDeps({ records = [], ...parts }: WorkerDepsParts): ContentWorkerDeps {
  return {
    fetchContent: async () =>
      (async function* () {
        yield Buffer.from(JSON.stringify(records));
      })(),
    sinksFor: () => [],
    deadLetter: { put: () => Promise.resolve(), openSpan: () => ({ write: () => Promise.resolve(), close: () => Promise.resolve(), abort: () => Promise.resolve() }) },
    filter: compileFilter(),
    clock: systemClock,
    random: () => 0.5,
    owner: 'test-worker',
    claimLeaseMs: 60_000,
    deadline: Date.now() + 60_000,
    logger: createLogger({ level: 'error' }),
    telemetry: noTelemetry,
    ...parts,
  };
}
