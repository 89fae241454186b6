// RFC 5424 messages for the syslog sink, pure: one decoded record becomes
//   <PRI>1 TIMESTAMP HOSTNAME APP-NAME - MSGID [sdId id=".." tenant=".." ...] BOM+MSG
// framed by octet counting (RFC 6587 §3.4.1: "LEN SP MSG"). A message never exceeds maxMessageBytes: the
// readable line is cut at a UTF-8 character boundary and ends with a visible `…[+N bytes]` marker.
import { z } from 'zod';
import type { DecodedRecord } from '../records/decode';
import { utcTime } from '../records/event-json';
import { escapeLineValue } from '../records/escape';
import type { ContentRef } from './sink';

/** RFC 5424 §6.2.1 facility codes (data, not a switch). */
export const facilityCodes = {
  kern: 0, user: 1, mail: 2, daemon: 3, auth: 4, syslog: 5, lpr: 6, news: 7, uucp: 8, cron: 9, authpriv: 10,
  ftp: 11, ntp: 12, security: 13, console: 14, solaris_cron: 15,
  local0: 16, local1: 17, local2: 18, local3: 19, local4: 20, local5: 21, local6: 22, local7: 23,
} as const;

/** RFC 5424 §6.2.1 severity codes. */
export const severityCodes = {
  emergency: 0, alert: 1, critical: 2, error: 3, warning: 4, notice: 5, informational: 6, debug: 7,
} as const;

export const SyslogFacility = z.enum(Object.keys(facilityCodes) as [keyof typeof facilityCodes, ...Array<keyof typeof facilityCodes>]);
export type SyslogFacility = z.infer<typeof SyslogFacility>;
export const SyslogSeverity = z.enum(Object.keys(severityCodes) as [keyof typeof severityCodes, ...Array<keyof typeof severityCodes>]);
export type SyslogSeverity = z.infer<typeof SyslogSeverity>;

/** ResultStatus values (lower case) that mean the audited action failed: those records get `failedSeverity`. */
export const failedResults: ReadonlySet<string> = new Set(['failed', 'failure', 'false']);

/** What MSGID carries: the record's RecordType name (default) or the feed's content type. */
export const MsgIdSource = z.enum(['recordType', 'contentType']);
export type MsgIdSource = z.infer<typeof MsgIdSource>;

export interface SyslogFormat {
  facility: SyslogFacility;
  severity: SyslogSeverity;
  failedSeverity: SyslogSeverity;
  hostname: string;
  appName: string;
  msgId: MsgIdSource;
  /** SD-ID of the one SD-ELEMENT; `name@PEN` (32473 is the documentation PEN of RFC 5612). */
  sdId: string;
  /** RFC 5424 §6.4: UTF-8 MSG starts with a BOM. */
  bom: boolean;
  /** Bytes of the whole message (without the octet-count frame). */
  maxMessageBytes: number;
}

export const priority = (facility: SyslogFacility, severity: SyslogSeverity): number =>
  facilityCodes[facility] * 8 + severityCodes[severity];

/** RFC 3339 UTC with at most 6 fractional digits (RFC 5424 TIME-SECFRAC), or the NILVALUE. */
export function syslogTimestamp(creationTime: unknown): string {
  const utc = utcTime(creationTime);
  if (utc === null) return '-';
  return utc.replace(/\.(\d{6})\d+Z$/, '.$1Z');
}

/** A header field: PRINTUSASCII only (anything else becomes `_`), at most `max` characters, `-` when empty. */
export function headerField(value: string | null | undefined, max: number): string {
  const text = (value ?? '').replace(/[^!-~]/g, '_').slice(0, max);
  return text === '' ? '-' : text;
}

/** SD-PARAM value: `"`, `\` and `]` escaped with a backslash (RFC 5424 §6.3.3). */
export const escapeParamValue = (value: string): string => value.replace(/["\\\]]/g, (c) => `\\${c}`);

/** Longest SD-PARAM value kept (real ids are far shorter); a longer one is cut with the line's marker. */
export const maxParamChars = 256;

export function structuredData(sdId: string, params: ReadonlyArray<readonly [string, string | null | undefined]>): string {
  let out = `[${sdId}`;
  for (const [name, value] of params) {
    if (value === null || value === undefined || value === '') continue;
    // Control characters are escaped like in the line, so a value can never end the record or the element.
    out += ` ${name}="${escapeParamValue(escapeLineValue(value, maxParamChars))}"`;
  }
  return out + ']';
}

const utf8Bom = Buffer.from([0xef, 0xbb, 0xbf]);
const cutMarker = (removedBytes: number) => `…[+${removedBytes} bytes]`;

/**
 * `text` as UTF-8 in at most `budget` bytes: whole, or cut at a character boundary with the marker appended.
 * Null when not even the marker fits.
 */
export function fitUtf8(text: string, budget: number): { bytes: Buffer; cutBytes: number } | null {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length <= budget) return { bytes, cutBytes: 0 };
  // The marker's width with the largest count it could show, so the result is never over budget.
  let end = budget - Buffer.byteLength(cutMarker(bytes.length));
  if (end < 0) return null;
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--; // never inside a multi-byte character
  const removed = bytes.length - end;
  return { bytes: Buffer.concat([bytes.subarray(0, end), Buffer.from(cutMarker(removed))]), cutBytes: removed };
}

export type SyslogMessage = { ok: true; bytes: Buffer; cutBytes: number } | { ok: false; reason: string };

/** The RFC 5424 message of one record (MSG = the readable line); not ok when the header alone is too big. */
export function syslogMessage(decoded: DecodedRecord, line: string, content: ContentRef, format: SyslogFormat): SyslogMessage {
  const c = decoded.common;
  const status = typeof c.ResultStatus === 'string' ? c.ResultStatus.toLowerCase() : '';
  const severity = failedResults.has(status) ? format.failedSeverity : format.severity;
  const msgId = format.msgId === 'recordType' ? decoded.recordTypeName : content.contentType;
  const header =
    `<${priority(format.facility, severity)}>1 ${syslogTimestamp(c.CreationTime)} ${headerField(format.hostname, 255)} ` +
    `${headerField(format.appName, 48)} - ${headerField(msgId, 32)} ` +
    structuredData(format.sdId, [
      ['id', c.Id],
      ['tenant', content.tenantId],
      ['contentType', content.contentType],
      ['contentId', content.contentId],
      ['recordType', decoded.recordTypeName],
      ['workload', c.Workload],
    ]) +
    ' ';
  const head = Buffer.concat([Buffer.from(header, 'utf8'), format.bom ? utf8Bom : Buffer.alloc(0)]);
  const body = fitUtf8(line, format.maxMessageBytes - head.length);
  if (body === null) {
    return { ok: false, reason: `the syslog header and structured data alone (${head.length} bytes) leave no room under maxMessageBytes ${format.maxMessageBytes}` };
  }
  return { ok: true, bytes: Buffer.concat([head, body.bytes]), cutBytes: body.cutBytes };
}

/** RFC 6587 octet-counting frame. */
export const octetFrame = (message: Buffer): Buffer => Buffer.concat([Buffer.from(`${message.length} `, 'ascii'), message]);
