// Table storage keys refuse `/ \ # ?` and control characters, and quotes complicate OData filters. Ids from the
// API are already checked by the client, but the ledger encodes every key anyway: characters of the API's
// contentId alphabet stay readable, anything else becomes `~` + two hex digits per UTF-8 byte (so `~` itself is
// escaped and the mapping is one-to-one). An encoded key longer than 512 characters is replaced by `~~` + the
// SHA-256 of the id (base64url); the raw id is always kept in its own column, so nothing is lost.
import { createHash } from 'node:crypto';

const kept = /[A-Za-z0-9$_.-]/;
const maxKeyLength = 512;

export function encodeKey(value: string): string {
  let out = '';
  for (const ch of value) {
    if (kept.test(ch)) out += ch;
    else for (const byte of Buffer.from(ch, 'utf8')) out += '~' + byte.toString(16).padStart(2, '0');
  }
  if (out.length > maxKeyLength) return '~~' + createHash('sha256').update(value, 'utf8').digest('base64url');
  return out;
}

/** A string literal for an OData filter. */
export const odataString = (value: string): string => `'${value.replaceAll("'", "''")}'`;
