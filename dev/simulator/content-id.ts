// contentIds shaped like the real ones (reference §2.8): `$`-separated, two time-stamped ids, the content type
// in two spellings, a region tag. Callers must treat them as opaque; the simulator only checks the shape.
import type { ContentType } from './request-shapes.js';

function stamp(date: Date): string {
  return date.toISOString().replace(/\D/g, '').slice(0, 17); // yyyyMMddHHmmssfff
}

export function generateContentId(contentType: ContentType, created: Date, sequence: number): string {
  const serial = String(sequence % 1_000_000).padStart(6, '0');
  const ready = new Date(created.getTime() + 150_000); // the second id is "made available" a little later
  const lower = contentType.toLowerCase().replace(/\./g, '_');
  const upper = contentType.replace(/\./g, '_');
  return `${stamp(created)}${serial}$${stamp(ready)}${serial}$${lower}$${upper}$na0034`;
}

// Letters, digits, `_`, `-` and `.` between `$` separators, at least two parts. Percent-encoded `$` (`%24`) is not
// accepted: the reference tells clients to keep `$` unencoded, and a client that encodes it should notice here.
const contentIdPattern = /^[A-Za-z0-9_.-]+(\$[A-Za-z0-9_.-]+)+$/;

export function isWellFormedContentId(id: string): boolean {
  return id.length <= 512 && contentIdPattern.test(id);
}

export function contentUriFor(baseUrl: string, tenantId: string, contentId: string): string {
  return `${baseUrl}/api/v1.0/${tenantId}/activity/feed/audit/${contentId}`;
}
