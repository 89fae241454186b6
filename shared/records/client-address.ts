// Client addresses arrive as IPv4, IPv4:port, [IPv6]:port, bare IPv6, "<null>", "" or null; this reads
// them into {ip, port}, and keeps what does not parse as an address in `raw` instead of guessing. An IPv6
// address without brackets is never split: "2001:db8::1:443" is one (valid) address, not an address and a port.
// The one parser for every address field of a record (ClientIP, ClientIPAddress, ActorIpAddress, SenderIp, UserIp...).
import { isIP } from 'node:net';

export interface ClientAddress {
  ip: string | null;
  port: number | null;
  raw?: string;
}

/** The address fields in the order the line format prefers them for its ClientIP header. */
export const clientAddressFields = ['ClientIP', 'ClientIPAddress', 'ActorIpAddress'] as const;

/** Every field name known to hold one address (and maybe a port): the line shows them as address, then port. */
export const addressFieldNames: ReadonlySet<string> = new Set([
  ...clientAddressFields,
  'ActorIP',
  'ClientIp',
  'SenderIp',
  'SenderIP',
  'UserIp',
  'UserIP',
  'IPAddress',
  'IpAddress',
]);

/** The label the line gives the port of an address field: ClientIP → ClientPort, SenderIp → SenderPort. */
export function portLabel(addressLabel: string): string {
  const stem = addressLabel.replace(/I[Pp](?:Address)?$/, '');
  return `${stem}Port`;
}

export function isMissingAddress(value: unknown): boolean {
  if (typeof value !== 'string') return true;
  const t = value.trim();
  return t === '' || t.toLowerCase() === '<null>' || t.toLowerCase() === 'null';
}

/** The first usable client address field of a record, as written (trimmed). */
export function clientAddressText(record: Record<string, unknown>): string | undefined {
  for (const field of clientAddressFields) {
    const value = record[field];
    if (!isMissingAddress(value)) return (value as string).trim();
  }
  return undefined;
}

function port(text: string | undefined): number | null | undefined {
  if (text === undefined) return null;
  if (!/^\d{1,5}$/.test(text)) return undefined;
  const n = Number(text);
  return n <= 65535 ? n : undefined;
}

const bracketedForm = /^\[([^\]]+)\](?::(\d+))?$/;
const v4WithPortForm = /^(\d{1,3}(?:\.\d{1,3}){3}):(\d+)$/;

export function parseClientAddress(text: string): ClientAddress {
  const t = text.trim();
  // Both forms are anchored with no nested quantifiers: linear in the length of the text.
  const bracketed = t.length <= 100 ? bracketedForm.exec(t) : null;
  if (bracketed) {
    const p = port(bracketed[2]);
    if (isIP(bracketed[1]!) && p !== undefined) return { ip: bracketed[1]!.toLowerCase(), port: p };
    return { ip: null, port: null, raw: text };
  }
  if (isIP(t)) return { ip: t.toLowerCase(), port: null };
  const v4WithPort = t.length <= 30 ? v4WithPortForm.exec(t) : null;
  if (v4WithPort && isIP(v4WithPort[1]!) === 4) {
    const p = port(v4WithPort[2]);
    if (p !== undefined) return { ip: v4WithPort[1]!, port: p };
  }
  return { ip: null, port: null, raw: text };
}

/** What the line shows for an address value: the address alone (as parsed) and its port, or the text as written. */
export function addressForLine(text: string): { shown: string; port: number | null } {
  const t = text.trim();
  // Most addresses are IPv4 without a port: nothing to split, shown as written (hot path, one per record).
  if (!t.includes(':') && !t.startsWith('[')) return { shown: t, port: null };
  const parsed = parseClientAddress(text);
  return parsed.ip === null ? { shown: t, port: null } : { shown: parsed.ip, port: parsed.port };
}
