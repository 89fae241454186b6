// The rows this instance last read or wrote, with their ETags, so the next guarded change of a row (a worker's
// renewal, progress and finish of the blob it holds; a reconcile step's plan move after reading it) writes under
// that ETag without reading first. Safe because the write is guarded: a stale entry costs one 412 and a read.
// Bounded: the oldest entries go first.

export interface RememberedRow {
  /** The parsed row, as the table ledger's `parse` for that key made it. */
  value: unknown;
  etag: string;
}

export interface RowMemory {
  get(pk: string, rk: string): RememberedRow | undefined;
  set(pk: string, rk: string, row: RememberedRow): void;
  /** Forgets the row if it is still remembered under `etag` (a newer entry written meanwhile stays). */
  forget(pk: string, rk: string, etag: string): void;
}

export function createRowMemory(capacity: number): RowMemory {
  const rows = new Map<string, RememberedRow>();
  // Table storage keys cannot hold control characters, so this pair key is unambiguous.
  const keyOf = (pk: string, rk: string) => `${pk}\n${rk}`;
  return {
    get: (pk, rk) => rows.get(keyOf(pk, rk)),
    set(pk, rk, row) {
      const key = keyOf(pk, rk);
      rows.delete(key); // re-inserted last: Map order is age order
      rows.set(key, row);
      if (rows.size > capacity) rows.delete(rows.keys().next().value!);
    },
    forget(pk, rk, etag) {
      const key = keyOf(pk, rk);
      if (rows.get(key)?.etag === etag) rows.delete(key);
    },
  };
}
