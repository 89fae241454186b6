// One request/answer as the route handlers see it: a parsed request in, a plain reply value out. The https
// server (simulator.ts) does the socket work, the journal and the fault knobs that act on the wire.
import type { ApiError } from './errors.js';

export interface Incoming {
  method: string;
  path: string;
  /** The raw query string without "?" (kept verbatim for NextPageUri). */
  rawQuery: string;
  /** Query parameters as sent (first value wins). */
  query: Record<string, string>;
  /** Lower-cased header names. */
  headers: Record<string, string>;
  body: Buffer;
}

export interface Reply {
  status: number;
  headers?: Record<string, string>;
  body?: string;
  /** Journal only: the tenant the request was about. */
  tenantId?: string;
  /** Journal only: a parsed body worth recording (redacted by the journal). */
  journalBody?: unknown;
  /** Fault: send only part of the body ('cut-json': consistent length; 'abort': close the socket mid-body). */
  truncate?: 'cut-json' | 'abort';
}

/** Query lookup ignoring the parameter name's case, as ASP.NET model binding does. */
export function queryParam(incoming: Incoming, name: string): string | undefined {
  const lower = name.toLowerCase();
  for (const [k, v] of Object.entries(incoming.query)) if (k.toLowerCase() === lower) return v;
  return undefined;
}

export const jsonType = 'application/json; charset=utf-8';

export function json(status: number, value: unknown, headers: Record<string, string> = {}): Reply {
  return { status, headers: { 'Content-Type': jsonType, ...headers }, body: JSON.stringify(value) };
}

export function errorReply(error: ApiError, headers: Record<string, string> = {}): Reply {
  return json(error.status, error.body, headers);
}
