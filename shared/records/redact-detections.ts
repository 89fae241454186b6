// DLP records can carry the sensitive values a policy matched (card numbers, ...) with their surrounding text. A
// setting (on by default) replaces them before any sink sees the record, keeping how many there were.
import { decodeRecord, type DecodedRecord } from './decode';
import { defineField } from './record-keys';

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
    if (next !== inner) defineField((out ??= { ...(value as Record<string, unknown>) }), key, next);
  }
  return out ?? value;
}

/**
 * The record with its DLP detected values redacted (decoded again from the redacted raw record). The walk is
 * bounded: decodeRecord already cut `raw` at maxNestingDepth, and its reports of those cuts are kept.
 */
export function redactDetections(record: DecodedRecord): DecodedRecord {
  if (record.profile.family !== 'dlp') return record;
  const raw = redactValue(record.raw);
  if (raw === record.raw) return record;
  const redacted = decodeRecord(raw);
  const schemaErrors = [...new Set([...record.schemaErrors, ...redacted.schemaErrors])];
  return schemaErrors.length === redacted.schemaErrors.length ? redacted : { ...redacted, schemaErrors };
}
