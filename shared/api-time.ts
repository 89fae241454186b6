// The one parser for the times the Management Activity API writes: contentCreated / contentExpiration in listings
// and notifications, CreationTime in records. ISO 8601 date-times only (Date.parse takes far more, e.g.
// "1 2 3" or "March 7"), seconds and 0-7 fractional digits optional; no zone means UTC, as the API writes it.
// Used by the webhook, the listing, the worker and the decoder, so they agree on what a bad time is.
import { z } from 'zod';

const ISO_DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2})(?::(\d{2})(\.\d{1,7})?)?([Zz]|[+-]\d{2}:?\d{2})?$/;

/** Epoch ms of an API time, or undefined when the text is not one (a real calendar date and clock time). */
export function parseApiTime(text: unknown): number | undefined {
  if (typeof text !== 'string' || text.length > 40) return undefined;
  const m = ISO_DATE_TIME.exec(text);
  if (!m) return undefined;
  const [year, month, day, hour, minute, second] = [m[1], m[2], m[3], m[4], m[5], m[6] ?? '0'].map(Number) as [number, number, number, number, number, number];
  if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59) return undefined;
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day); // not Date.UTC, which reads years 0-99 as 1900-1999
  if (date.getUTCDate() !== day) return undefined; // 31 April, 29 February 2023
  date.setUTCHours(hour, minute, second, Math.floor(Number(`0${m[7] ?? ''}`) * 1000));
  return date.getTime() - zoneOffsetMs(m[8]);
}

function zoneOffsetMs(zone: string | undefined): number {
  if (zone === undefined || zone === 'Z' || zone === 'z') return 0;
  const sign = zone.startsWith('-') ? -1 : 1;
  const digits = zone.slice(1).replace(':', '');
  return sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2))) * 60_000;
}

/** An API time as a string that parseApiTime reads; the text is kept as the API wrote it. */
export const ApiTime = z.string().refine((text) => parseApiTime(text) !== undefined, { error: 'not an ISO 8601 date-time' });

/** The instant in canonical form (UTC, `Z`, milliseconds), or null for a text that is not an API time. */
export function apiTimeIso(text: unknown): string | null {
  const ms = parseApiTime(text);
  return ms === undefined ? null : new Date(ms).toISOString();
}
