// The building blocks every settings section is made of. A setting arrives as text (environment or
// local.settings.json); each block turns that text into a typed value or a problem saying what is wrong — never
// echoing the value, so a secret cannot leak through a message. Blank text counts as unset.
import { z } from 'zod';
import { CloudName, cloudNames } from '../api/clouds.js';
import { contentTypes, ContentType } from '../api/content-types.js';

const unsetIfBlank = (value: unknown) => (typeof value === 'string' ? (value.trim() === '' ? undefined : value.trim()) : value);
/** Wraps a schema so blank text reaches it as undefined and other text arrives trimmed. */
export const setting = <T extends z.ZodType>(schema: T) => z.preprocess(unsetIfBlank, schema);

export const guidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const guid = z
  .string({ error: 'is required' })
  .regex(guidPattern, { error: 'must be a GUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)' })
  .transform((v) => v.toLowerCase());

/** Items separated by commas, semicolons or white space. */
const list = (text: string) =>
  text
    .split(/[,;\s]+/)
    .map((v) => v.trim())
    .filter((v) => v !== '');

// Empty when unset: whether a tenant is required is the section's rule (a registry table can hold them all).
export const guidList = z
  .string()
  .optional()
  .transform((text, ctx) => {
    const items = list(text ?? '');
    if (items.some((v) => !guidPattern.test(v))) {
      ctx.addIssue({ code: 'custom', message: 'must be one tenant GUID, or several separated by commas (not domain names)' });
    }
    return [...new Set(items.map((v) => v.toLowerCase()))];
  });

export const flag = z
  .string()
  .optional()
  .transform((text, ctx) => {
    if (text === undefined) return false;
    const v = text.toLowerCase();
    if (['true', '1', 'yes'].includes(v)) return true;
    if (['false', '0', 'no'].includes(v)) return false;
    ctx.addIssue({ code: 'custom', message: 'must be true or false' });
    return false;
  });

const cloudAliases: Record<string, CloudName> = Object.fromEntries([
  ...cloudNames.map((name) => [name.toLowerCase(), name] as const),
  ['commercial', 'Enterprise'],
  ['public', 'Enterprise'],
  ['gcchigh', 'GCCHigh'],
  ['usgovhigh', 'GCCHigh'],
  ['dod', 'DoD'],
]);

export const cloud = z
  .string()
  .optional()
  .transform((text, ctx) => {
    if (text === undefined) return 'Enterprise' as CloudName;
    const found = cloudAliases[text.toLowerCase().replace(/[\s_-]/g, '')];
    if (found === undefined) ctx.addIssue({ code: 'custom', message: `must be one of ${cloudNames.join(', ')}` });
    return found ?? ('Enterprise' as CloudName);
  });

export const contentTypeList = z
  .string()
  .optional()
  .transform((text, ctx) => {
    if (text === undefined) return [...contentTypes];
    const wanted = list(text);
    const byLower = new Map(contentTypes.map((t) => [t.toLowerCase(), t] as const));
    const found: ContentType[] = [];
    for (const item of wanted) {
      const match = byLower.get(item.toLowerCase());
      if (match === undefined) {
        // A content type name is not secret, and naming the bad one is the useful part of the message.
        ctx.addIssue({ code: 'custom', message: `"${item.slice(0, 40)}" is not one of ${contentTypes.join(', ')}` });
      } else if (!found.includes(match)) found.push(match);
    }
    if (wanted.length === 0) ctx.addIssue({ code: 'custom', message: 'must name at least one content type' });
    return found;
  });

/** A whole number from 1 to `max` (digits only: "16MB" or "1e3" is refused as what it is, not as missing). */
export const positiveInt = (fallback: number, max: number) =>
  z
    .union([z.string(), z.number()])
    .optional()
    .transform((value, ctx) => {
      if (value === undefined) return fallback;
      const text = String(value);
      const n = /^\d{1,16}$/.test(text) ? Number(text) : NaN;
      const problem = Number.isNaN(n) ? 'must be a whole number' : n < 1 ? 'must be at least 1' : n > max ? `must be at most ${max}` : undefined;
      if (problem === undefined) return n;
      ctx.addIssue({ code: 'custom', message: problem });
      return fallback;
    });

const durationUnits: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000 };
/** A span of time written as minutes, hours or days (30m, 24h, 7d), in milliseconds. */
export const duration = (fallbackMs: number, maxMs: number) =>
  z
    .string()
    .optional()
    .transform((text, ctx) => {
      if (text === undefined) return fallbackMs;
      const m = /^(\d+)([mhd])$/.exec(text.toLowerCase());
      const ms = m ? Number(m[1]) * durationUnits[m[2]!]! : NaN;
      if (!(ms > 0)) ctx.addIssue({ code: 'custom', message: 'must be a duration such as 30m, 24h or 7d' });
      else if (ms > maxMs) ctx.addIssue({ code: 'custom', message: `must be at most ${maxMs / 86_400_000} days` });
      return Math.min(ms || fallbackMs, maxMs);
    });
