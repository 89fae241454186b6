// Every request the simulator receives (and every webhook call it makes), with secrets replaced by
// "[redacted]", so tests can assert headers and counts without secrets ever being stored.
import { secretForms } from '../../shared/log.js';

/** secretForms keeps spellings of at least 4 characters: the index key. */
const prefixLength = 4;

export interface JournalEntry {
  time: string;
  method: string;
  /** Request path without the query string (for outgoing webhook calls: the webhook URL's path). */
  path: string;
  query: Record<string, string>;
  /** Header names lower-cased. */
  headers: Record<string, string>;
  status: number;
  tenantId?: string;
  /** 'in' = a request to the simulator; 'out' = a validation or notification POST it sent. */
  direction: 'in' | 'out';
  /** Full URL of an outgoing call. */
  url?: string;
  /** Parsed body where it helps assertions (token form, /start body, webhook payloads), redacted. */
  body?: unknown;
}

const secretNames = new Set(['authorization', 'client_secret', 'client_assertion', 'webhook-authid', 'authid', 'access_token', 'cookie', 'password']);

function redactFields(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redactFields);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      if (!secretNames.has(k.toLowerCase())) out[k] = redactFields(v);
      // Keep the scheme ("Bearer") so tests can still see which kind of credential was sent.
      else if (k.toLowerCase() === 'authorization' && typeof v === 'string') out[k] = v.replace(/^(\S+)(\s.*)?$/s, '$1 [redacted]');
      else out[k] = '[redacted]';
    }
    return out;
  }
  return value;
}

export class Journal {
  readonly entries: JournalEntry[] = [];
  private readonly secrets = new Set<string>();
  /**
   * Every spelling of every secret (secretForms), by its first characters: one pass over an entry finds them all,
   * so recording costs the entry's length, not the number of secrets (thousands of tokens with many tenants).
   */
  private readonly formsByPrefix = new Map<string, string[]>();

  /** Values to scrub wherever they appear (issued tokens, app secrets, authIds). */
  addSecret(value: string | undefined): void {
    if (!value || value.length < 4 || this.secrets.has(value)) return;
    this.secrets.add(value);
    for (const form of secretForms(value)) {
      const key = form.slice(0, prefixLength);
      const forms = this.formsByPrefix.get(key) ?? [];
      if (!forms.includes(form)) forms.push(form);
      forms.sort((a, b) => b.length - a.length); // the longest spelling wins at a position
      this.formsByPrefix.set(key, forms);
    }
  }

  /** The values scrubbed so far (for a test's secret scan over everything else). */
  get secretValues(): string[] {
    return [...this.secrets];
  }

  record(entry: JournalEntry): void {
    const byName = redactFields(entry) as JournalEntry;
    // A second pass catches a secret that arrived under an unexpected name (e.g. in a query string).
    this.entries.push(JSON.parse(this.scrub(JSON.stringify(byName))) as JournalEntry);
  }

  /** `redact` (shared/log.ts) in one pass: each position is checked against the spellings starting like it. */
  private scrub(text: string): string {
    let out = '';
    let from = 0;
    for (let i = 0; i + prefixLength <= text.length;) {
      const hit = this.formsByPrefix.get(text.slice(i, i + prefixLength))?.find((form) => text.startsWith(form, i));
      if (hit === undefined) {
        i++;
        continue;
      }
      out += text.slice(from, i) + '[redacted]';
      i += hit.length;
      from = i;
    }
    return out + text.slice(from);
  }
}

export function flattenHeaders(headers: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) out[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}
