// The completeness receipt written out: text for a terminal, CSV for a spreadsheet, JSON (the Receipt schema plus
// where each final day is kept), and one self-contained HTML page with a small chart per tenant. Pure functions.
import { z } from 'zod';
import { Receipt, type StreamDay, type TenantReceipt, type Verdict } from './receipt';

/** A final day's receipt in blob storage, with the SHA-256 of its exact bytes. */
export const StoredDay = z.object({
  tenantId: z.string(),
  day: z.string(),
  blob: z.string(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  /** False when it was already there (written once; a later run never replaces it). */
  written: z.boolean(),
});
export type StoredDay = z.infer<typeof StoredDay>;

export const ReceiptOutput = Receipt.extend({ stored: z.array(StoredDay) });
export type ReceiptOutput = z.infer<typeof ReceiptOutput>;

export type ReceiptFormat = 'text' | 'csv' | 'json' | 'html';
export const receiptFormats: readonly ReceiptFormat[] = ['text', 'csv', 'json', 'html'];

export interface FormatOptions {
  /** HTML: tenants with a chart of their own (the worst first); the rest are summed up in one table. */
  top: number;
}

const storedKey = (tenantId: string, day: string) => `${tenantId}/${day}`;
const storedIndex = (stored: readonly StoredDay[]) => new Map(stored.map((s) => [storedKey(s.tenantId, s.day), s]));

const sinkSummary = (d: StreamDay) =>
  d.sinks.map((s) => `${s.sink} ${s.delivered}/${s.expected}${s.deadLettered > 0 ? ` (${s.deadLettered} dead-lettered)` : ''}`).join(', ') || 'no sink';

function text(receipt: ReceiptOutput): string {
  const stored = storedIndex(receipt.stored);
  const lines = [`completeness receipt ${receipt.since} .. ${receipt.until}: ${receipt.verdict}`];
  for (const tenant of receipt.tenants) {
    lines.push('', `tenant ${tenant.tenantId}: ${tenant.verdict}${tenant.unreadableRows > 0 ? ` (${tenant.unreadableRows} ledger row(s) unreadable)` : ''}`);
    let lastDay = '';
    for (const d of tenant.days) {
      if (d.day !== lastDay) {
        const s = stored.get(storedKey(tenant.tenantId, d.day));
        lines.push(`  ${d.day}${s ? `  receipt ${s.blob} sha256 ${s.sha256}` : ''}`);
        lastDay = d.day;
      }
      const b = d.blobs;
      lines.push(
        `    ${d.contentType.padEnd(26)} ${d.verdict.padEnd(10)} listed ${b.listed}, notified ${b.notified} (listed only ${b.listedNotNotified}), ` +
          `delivered ${b.delivered + b.withProblems}, refused ${b.refused}, expired ${b.expired}, dead-lettered ${b.deadLettered}, pending ${b.pending}; ` +
          `records ${d.records.in} (filtered ${d.records.filtered}); sinks: ${sinkSummary(d)}`,
      );
      for (const p of d.problems) if (!p.startsWith('open:')) lines.push(`      ! ${p}`);
    }
  }
  return lines.join('\n') + '\n';
}

/** RFC 4180: a field with a comma, quote or line break is quoted, quotes doubled; a leading =+-@ is defused for spreadsheets. */
export function csvField(value: string | number | boolean | null): string {
  let t = value === null ? '' : String(value);
  if (/^[=+\-@\t\r]/.test(t) && typeof value === 'string') t = `'${t}`;
  return /[",\r\n]/.test(t) ? `"${t.replace(/"/g, '""')}"` : t;
}

const csvColumns = [
  'tenantId', 'day', 'contentType', 'final', 'verdict', 'listed', 'notified', 'listedNotNotified', 'notifiedNotListed', 'delivered',
  'withProblems', 'deadLettered', 'refused', 'expired', 'pending', 'recordsIn', 'recordsFiltered', 'sinks', 'problems', 'receiptBlob', 'receiptSha256',
] as const;

function csv(receipt: ReceiptOutput): string {
  const stored = storedIndex(receipt.stored);
  const rows = receipt.tenants.flatMap((t) => t.days.map((d) => {
    const s = stored.get(storedKey(t.tenantId, d.day));
    const b = d.blobs;
    return [
      d.tenantId, d.day, d.contentType, d.final, d.verdict, b.listed, b.notified, b.listedNotNotified, b.notifiedNotListed, b.delivered,
      b.withProblems, b.deadLettered, b.refused, b.expired, b.pending, d.records.in, d.records.filtered,
      d.sinks.map((x) => `${x.sink}=${x.delivered}/${x.expected};deadLettered=${x.deadLettered};records=${x.recordsDelivered};recordsDeadLettered=${x.recordsDeadLettered}`).join(' '),
      d.problems.join('; '), s?.blob ?? '', s?.sha256 ?? '',
    ];
  }));
  return [csvColumns.join(','), ...rows.map((r) => r.map(csvField).join(','))].join('\r\n') + '\r\n';
}

const json = (receipt: ReceiptOutput): string => JSON.stringify(receipt, null, 2) + '\n';

export function htmlEscape(value: string): string {
  return value.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const verdictColour: Readonly<Record<Verdict, string>> = { complete: '#2e7d32', open: '#9e9e9e', incomplete: '#c62828' };

/** Worst first, then by volume: the tenants an operator should look at. */
function ranked(tenants: readonly TenantReceipt[]): TenantReceipt[] {
  const rank: Readonly<Record<Verdict, number>> = { incomplete: 0, open: 1, complete: 2 };
  const volume = (t: TenantReceipt) => t.days.reduce((n, d) => n + d.blobs.known, 0);
  return [...tenants].sort((a, b) => rank[a.verdict] - rank[b.verdict] || volume(b) - volume(a) || a.tenantId.localeCompare(b.tenantId));
}

/** Per day, a bar of blobs known (height) split into reached and not reached, its border the day's verdict. */
function chart(tenant: TenantReceipt): string {
  const days = [...new Set(tenant.days.map((d) => d.day))];
  const perDay = days.map((day) => {
    const streams = tenant.days.filter((d) => d.day === day);
    const known = streams.reduce((n, d) => n + d.blobs.known, 0);
    const lost = streams.reduce((n, d) => n + d.blobs.refused + d.blobs.expired + d.blobs.pending + d.blobs.deadLettered, 0);
    const verdict: Verdict = streams.some((d) => d.verdict === 'incomplete') ? 'incomplete' : streams.some((d) => d.verdict === 'open') ? 'open' : 'complete';
    return { day, known, lost: Math.min(lost, known), verdict };
  });
  const max = Math.max(1, ...perDay.map((d) => d.known));
  const w = 28;
  const h = 60;
  const bars = perDay.map((d, i) => {
    const total = Math.round((d.known / max) * h);
    const bad = Math.round((d.lost / max) * h);
    const x = i * w + 4;
    return `<g><title>${htmlEscape(`${d.day}: ${d.verdict}, ${d.known} blob(s), ${d.lost} not reached`)}</title>` +
      `<rect x="${x}" y="${h - total + 2}" width="${w - 8}" height="${total - bad}" fill="#90caf9"/>` +
      `<rect x="${x}" y="${h - bad + 2}" width="${w - 8}" height="${bad}" fill="#ef9a9a"/>` +
      `<rect x="${x - 2}" y="${h + 4}" width="${w - 4}" height="4" fill="${verdictColour[d.verdict]}"/>` +
      `<text x="${x + (w - 8) / 2}" y="${h + 18}" font-size="8" text-anchor="middle">${htmlEscape(d.day.slice(5))}</text></g>`;
  });
  return `<svg role="img" width="${perDay.length * w + 8}" height="${h + 22}" viewBox="0 0 ${perDay.length * w + 8} ${h + 22}">${bars.join('')}</svg>`;
}

function tenantSection(tenant: TenantReceipt, stored: ReadonlyMap<string, StoredDay>): string {
  const rows = tenant.days.filter((d) => d.blobs.known > 0 || d.verdict !== 'complete').map((d) => {
    const b = d.blobs;
    const s = stored.get(storedKey(tenant.tenantId, d.day));
    return `<tr><td>${htmlEscape(d.day)}</td><td>${htmlEscape(d.contentType)}</td><td class="${d.verdict}">${d.verdict}</td>` +
      `<td>${b.listed}</td><td>${b.notified}</td><td>${b.delivered + b.withProblems}</td><td>${b.refused}</td><td>${b.expired}</td>` +
      `<td>${b.deadLettered}</td><td>${b.pending}</td><td>${d.records.in}</td><td>${d.records.filtered}</td><td>${htmlEscape(sinkSummary(d))}</td>` +
      `<td>${htmlEscape(d.problems.filter((p) => !p.startsWith('open:')).join('; '))}</td><td class="sha">${s ? htmlEscape(s.sha256) : ''}</td></tr>`;
  });
  return `<section><h2>${htmlEscape(tenant.tenantId)} <span class="${tenant.verdict}">${tenant.verdict}</span></h2>${chart(tenant)}` +
    `<table><tr><th>day</th><th>content type</th><th>verdict</th><th>listed</th><th>notified</th><th>delivered</th><th>refused</th><th>expired</th>` +
    `<th>dead-lettered</th><th>pending</th><th>records</th><th>filtered</th><th>sinks</th><th>problems</th><th>receipt SHA-256</th></tr>${rows.join('')}</table></section>`;
}

function html(receipt: ReceiptOutput, options: FormatOptions): string {
  const stored = storedIndex(receipt.stored);
  const order = ranked(receipt.tenants);
  const shown = order.slice(0, options.top);
  const rest = order.slice(options.top);
  const restTable = rest.length === 0 ? '' :
    `<section><h2>${rest.length} more tenant(s)</h2><table><tr><th>tenant</th><th>verdict</th><th>blobs</th></tr>` +
    rest.map((t) => `<tr><td>${htmlEscape(t.tenantId)}</td><td class="${t.verdict}">${t.verdict}</td><td>${t.days.reduce((n, d) => n + d.blobs.known, 0)}</td></tr>`).join('') +
    '</table></section>';
  const style = 'body{font:13px system-ui,sans-serif;margin:1.5em}table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ddd;padding:2px 6px;text-align:right}' +
    'td:nth-child(-n+3),th{text-align:left}.complete{color:#2e7d32}.incomplete{color:#c62828;font-weight:bold}.open{color:#757575}.sha{font-family:monospace;font-size:10px}';
  const counts = (v: Verdict) => receipt.tenants.filter((t) => t.verdict === v).length;
  return '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>o365-relay completeness receipt</title>' +
    `<style>${style}</style></head><body><h1>Completeness receipt <span class="${receipt.verdict}">${receipt.verdict}</span></h1>` +
    `<p>${htmlEscape(receipt.since)} .. ${htmlEscape(receipt.until)}, generated ${htmlEscape(receipt.generatedAt)}: ${receipt.tenants.length} tenant(s), ` +
    `${counts('complete')} complete, ${counts('open')} open, ${counts('incomplete')} incomplete. A day is final once a listing ran 24 h after it ended.</p>` +
    shown.map((t) => tenantSection(t, stored)).join('') + restTable + '</body></html>\n';
}

/** Formats as data: one writer per format. */
const formatters: Readonly<Record<ReceiptFormat, (receipt: ReceiptOutput, options: FormatOptions) => string>> = { text, csv, json, html };

export const formatReceipt = (receipt: ReceiptOutput, format: ReceiptFormat, options: FormatOptions = { top: 50 }): string => formatters[format](receipt, options);
