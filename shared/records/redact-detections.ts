// DLP records can carry the sensitive values a policy matched (card numbers, ...) with their surrounding text. A
// setting (on by default) replaces them before any sink sees the record, keeping how many there were.
import { decodeRecord, type DecodedRecord } from './decode';

export const redactedValue = '[redacted]';

/** A copy of `value` with every SensitiveInformationDetections.DetectedValues entry redacted; same object if none. */
function redactValue(value: unknown): unknown {
  if (Array.isArray(value)) {
    let changed = false;
    const out = value.map((v) => {
      const r = redactValue(v);
      changed ||= r !== v;
      return r;
    });
    return changed ? out : value;
  }
  if (value === null || typeof value !== 'object') return value;
  let out: Record<string, unknown> | undefined;
  for (const [key, inner] of Object.entries(value)) {
    let next = redactValue(inner);
    if (key === 'SensitiveInformationDetections' && next !== null && typeof next === 'object' && Array.isArray((next as { DetectedValues?: unknown }).DetectedValues)) {
      const detections = next as { DetectedValues: unknown[] };
      next = { ...detections, DetectedValues: detections.DetectedValues.map(() => ({ Value: redactedValue, Context: redactedValue })) };
    }
    if (next !== inner) (out ??= { ...(value as Record<string, unknown>) })[key] = next;
  }
  return out ?? value;
}

/** The record with its DLP detected values redacted (decoded again from the redacted raw record). */
export function redactDetections(record: DecodedRecord): DecodedRecord {
  if (record.profile.family !== 'dlp') return record;
  const raw = redactValue(record.raw);
  return raw === record.raw ? record : decodeRecord(raw);
}
