// nextPage tokens for NextPageUri paging. Opaque to callers; here they name the first item of the next page by
// (contentCreated, publish sequence), the order listings are in. Shaped like the doc's
// `20240514050000R017734002917` so a client that treats them as opaque strings is exercised honestly.

export interface PagePosition {
  created: Date;
  sequence: number;
}

export function encodePageToken(position: PagePosition): string {
  const stamp = position.created.toISOString().replace(/\D/g, '').slice(0, 17); // yyyyMMddHHmmssfff
  return `${stamp}R${String(position.sequence).padStart(12, '0')}`;
}

export function decodePageToken(token: string): PagePosition | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{3})R(\d{12})$/.exec(token);
  if (!m) return undefined;
  const [y, mo, d, h, mi, s, ms, seq] = m.slice(1).map(Number) as [number, number, number, number, number, number, number, number];
  const created = new Date(Date.UTC(y, mo - 1, d, h, mi, s, ms));
  if (encodePageToken({ created, sequence: seq }) !== token) return undefined; // rolled-over dates
  return { created, sequence: seq };
}

export function comparePositions(a: PagePosition, b: PagePosition): number {
  return a.created.getTime() - b.created.getTime() || a.sequence - b.sequence;
}

export interface Page<T> {
  items: T[];
  next?: PagePosition;
}

/** One page of `sorted` (ascending by position) starting at `from` (inclusive). */
export function pageFrom<T extends PagePosition>(sorted: readonly T[], from: PagePosition | undefined, pageSize: number): Page<T> {
  const startIndex = from === undefined ? 0 : sorted.findIndex((item) => comparePositions(item, from) >= 0);
  if (startIndex < 0) return { items: [] };
  const items = sorted.slice(startIndex, startIndex + pageSize);
  const following = sorted[startIndex + pageSize];
  return following ? { items, next: { created: following.created, sequence: following.sequence } } : { items };
}
