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
  // JSON text holding detections (a value the decoder cut at its nesting cap, or JSON kept in a string) is not
  // walked: it is redacted whole, so no detected value reaches a sink that way.
  if (typeof value === 'string') return value.includes('"DetectedValues"') ? redactedValue : value;
  if (value === null || typeof value !== 'object') return value;
  let out: Record<string, unknown> | undefined;
  for (const [key, inner] of Object.entries(value)) {
    let next = redactValue(inner);
    if (key === 'SensitiveInformationDetections' && next !== null && typeof next === 'object') {
      const detections = next as { DetectedValues?: unknown };
      const values = detections.DetectedValues;
      if (Array.isArray(values)) next = { ...detections, DetectedValues: values.map(() => ({ Value: redactedValue, Context: redactedValue })) };
      else if (typeof values === 'string') next = { ...detections, DetectedValues: redactedValue }; // cut at the cap
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
