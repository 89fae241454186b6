// How many refused listed items a stream still has in the ledger, from two fields of its stream row: the count the
// reconciler adds to as it records new refusals, and when it last did. Health reads it instead of scanning the
// tenant's content partition (a week of blobs) for state 'refused'. Pure: a row's fields and a time in, a count out.
import { contentKeptMs } from './ledger';

export interface RefusedTally {
  refusedCount?: number | undefined;
  lastRefusedAt?: Date | undefined;
}

/**
 * The refused items the ledger may still keep: the count while the newest one can still be there, else 0. A row
 * is purged `contentKeptMs` after its contentCreated, which is never later than when it was refused, so once
 * that long has passed since the last refusal every refused row of the stream is gone (or due at the next purge).
 */
export function refusedKept(tally: RefusedTally, now: Date): number {
  if (tally.refusedCount === undefined || tally.lastRefusedAt === undefined) return 0;
  return now.getTime() - tally.lastRefusedAt.getTime() < contentKeptMs ? tally.refusedCount : 0;
}

/** The tally after `added` new refusals at `at`: a count whose rows were all purged starts again from zero. */
export function withRefused<T extends RefusedTally>(tally: T, added: number, at: Date): T {
  if (added <= 0) return tally;
  return { ...tally, refusedCount: refusedKept(tally, at) + added, lastRefusedAt: at };
}
