// Client addresses arrive as IPv4, IPv4:port, [IPv6]:port, bare IPv6, "<null>", "" or null; this reads
// them into {ip, port}, and keeps what does not parse as an address in `raw` instead of guessing.
import { isIP } from 'node:net';

export interface ClientAddress {
  ip: string | null;
  port: number | null;
  raw?: string;
}

/** The address fields in the order the line format prefers them. */
export const clientAddressFields = ['ClientIP', 'ClientIPAddress', 'ActorIpAddress'] as const;

export function isMissingAddress(value: unknown): boolean {
  if (typeof value !== 'string') return true;
  const t = value.trim();
  return t === '' || t.toLowerCase() === '<null>' || t.toLowerCase() === 'null';
}

/** The first usable client address field of a record, as written. */
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

export function parseClientAddress(text: string): ClientAddress {
  const bracketed = /^\[([^\]]+)\](?::(.*))?$/.exec(text);
  if (bracketed) {
    const p = port(bracketed[2]);
    if (isIP(bracketed[1]!) && p !== undefined) return { ip: bracketed[1]!.toLowerCase(), port: p };
    return { ip: null, port: null, raw: text };
  }
  if (isIP(text)) return { ip: text.toLowerCase(), port: null };
  const v4WithPort = /^(\d{1,3}(?:\.\d{1,3}){3}):(\d+)$/.exec(text);
  if (v4WithPort && isIP(v4WithPort[1]!) === 4) {
    const p = port(v4WithPort[2]);
    if (p !== undefined) return { ip: v4WithPort[1]!, port: p };
  }
  return { ip: null, port: null, raw: text };
}
