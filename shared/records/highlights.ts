// Security highlights: events a security team watches (forwarding, permission grants, consent, role changes,
// anonymous links...), tagged from ONE record. The rules are data in one table; matching is compiled once into a
// Map keyed by normalised Operation, so a record costs one lookup and, for the few that hit, a parameter check.
import type { DecodedRecord } from './decode';
import { isPresent, pairValue } from './paths';

export type Severity = 'low' | 'medium' | 'high';

export interface Highlight {
  readonly name: string;
  readonly severity: Severity;
}

/** A condition on one Exchange cmdlet parameter (the `Parameters` {Name, Value} list, names case-insensitive). */
export type ParameterCondition =
  | { readonly parameter: string; readonly is: 'set' } // present and not empty / $null
  | { readonly parameter: string; readonly is: 'true' }; // True, true or a JSON boolean true

export interface HighlightSpec extends Highlight {
  /** Operation names; matched ignoring case, surrounding spaces and one trailing '.' (Entra writes "Add user."). */
  readonly operations: readonly string[];
  /** RecordType values the operations are expected under; absent = any. */
  readonly recordTypes?: readonly number[];
  /** When given, at least one condition must hold. */
  readonly anyParameter?: readonly ParameterCondition[];
}

export interface HighlightRule extends Highlight {
  matches(record: DecodedRecord): boolean;
}

const exchangeAdmin = [1];
const entraDirectory = [8];
const sharing = [14];
const set = (...names: string[]): ParameterCondition[] => names.map((parameter) => ({ parameter, is: 'set' as const }));

/** The table. Failed attempts match too: the line and event still carry ResultStatus for triage. */
export const highlightSpecs: readonly HighlightSpec[] = [
  {
    name: 'mailbox-permission-granted',
    severity: 'high',
    operations: ['Add-MailboxPermission', 'Add-RecipientPermission'],
    recordTypes: exchangeAdmin,
  },
  {
    // Folder-level grants are mostly calendar delegation: worth seeing, rarely an incident on their own.
    name: 'mailbox-folder-permission-granted',
    severity: 'medium',
    operations: ['Add-MailboxFolderPermission'],
    recordTypes: exchangeAdmin,
  },
  {
    name: 'mailbox-forwarding-set',
    severity: 'high',
    operations: ['Set-Mailbox'],
    recordTypes: exchangeAdmin,
    anyParameter: set('ForwardingSmtpAddress', 'ForwardingAddress'),
  },
  {
    name: 'inbox-rule-forwards-or-deletes',
    severity: 'high',
    operations: ['New-InboxRule', 'Set-InboxRule'],
    recordTypes: exchangeAdmin,
    anyParameter: [...set('ForwardTo', 'RedirectTo', 'ForwardAsAttachmentTo'), { parameter: 'DeleteMessage', is: 'true' }],
  },
  {
    name: 'transport-rule-changed',
    severity: 'medium',
    operations: ['New-TransportRule', 'Set-TransportRule'],
    recordTypes: exchangeAdmin,
  },
  {
    name: 'conditional-access-policy-changed',
    severity: 'high',
    operations: ['Add conditional access policy', 'Update conditional access policy', 'Delete conditional access policy'],
    recordTypes: entraDirectory,
  },
  {
    // Exchange's own access policies: OWA's ConditionalAccessPolicy and authentication (basic auth) policies.
    // Set-CASMailbox is left out: per-mailbox protocol switches are routine and high-volume.
    name: 'exchange-access-policy-changed',
    severity: 'low',
    operations: ['Set-OwaMailboxPolicy', 'New-OwaMailboxPolicy'],
    recordTypes: exchangeAdmin,
    anyParameter: set('ConditionalAccessPolicy'),
  },
  {
    name: 'exchange-access-policy-changed',
    severity: 'low',
    operations: ['New-AuthenticationPolicy', 'Set-AuthenticationPolicy', 'Remove-AuthenticationPolicy'],
    recordTypes: exchangeAdmin,
  },
  {
    name: 'application-consent',
    severity: 'high',
    operations: ['Consent to application.'],
    recordTypes: entraDirectory,
  },
  {
    name: 'role-member-added',
    severity: 'high',
    operations: ['Add member to role.'],
    recordTypes: entraDirectory,
  },
  {
    name: 'anonymous-link-created',
    severity: 'medium',
    operations: ['AnonymousLinkCreated'],
    recordTypes: sharing,
  },
  {
    // Use of an "anyone" link: noisy where such links are normal, but the exfiltration step when they are not.
    name: 'anonymous-link-used',
    severity: 'low',
    operations: ['AnonymousLinkUsed'],
    recordTypes: sharing,
  },
  {
    name: 'mailbox-audit-bypass',
    severity: 'high',
    operations: ['Set-MailboxAuditBypassAssociation'],
    recordTypes: exchangeAdmin,
    anyParameter: [{ parameter: 'AuditBypassEnabled', is: 'true' }],
  },
];

/** The key operations are looked up by: trimmed, lower case, without one trailing '.'. */
export function operationKey(operation: string): string {
  const t = operation.trim().toLowerCase();
  return t.endsWith('.') ? t.slice(0, -1) : t;
}

function holds(condition: ParameterCondition, parameters: unknown): boolean {
  const value = pairValue(parameters, condition.parameter);
  if (condition.is === 'true') return value === true || (typeof value === 'string' && value.trim().toLowerCase() === 'true');
  if (!isPresent(value)) return false;
  if (typeof value !== 'string') return true;
  const t = value.trim();
  return t !== '' && t.toLowerCase() !== '$null';
}

function compileRule(spec: HighlightSpec): HighlightRule {
  const operations = new Set(spec.operations.map(operationKey));
  const recordTypes = spec.recordTypes ? new Set(spec.recordTypes) : undefined;
  const conditions = spec.anyParameter;
  return {
    name: spec.name,
    severity: spec.severity,
    matches(decoded) {
      const { Operation, RecordType } = decoded.common;
      if (typeof Operation !== 'string' || !operations.has(operationKey(Operation))) return false;
      if (recordTypes && (RecordType == null || !recordTypes.has(RecordType))) return false;
      return conditions === undefined || conditions.some((c) => holds(c, decoded.record.Parameters));
    },
  };
}

export const highlightRules: readonly HighlightRule[] = highlightSpecs.map(compileRule);

const rulesByOperation = new Map<string, HighlightRule[]>();
for (const [index, spec] of highlightSpecs.entries()) {
  for (const operation of spec.operations) {
    const key = operationKey(operation);
    const rules = rulesByOperation.get(key) ?? [];
    rules.push(highlightRules[index]!);
    rulesByOperation.set(key, rules);
  }
}

const none: readonly Highlight[] = Object.freeze([]);

/** The highlights of one record, in table order; the shared empty array when there are none. */
export function highlightsOf(decoded: DecodedRecord): readonly Highlight[] {
  const operation = decoded.common.Operation;
  if (typeof operation !== 'string') return none;
  const candidates = rulesByOperation.get(operationKey(operation));
  if (candidates === undefined) return none;
  const found: Highlight[] = [];
  for (const rule of candidates) {
    if (rule.matches(decoded) && !found.some((h) => h.name === rule.name)) found.push({ name: rule.name, severity: rule.severity });
  }
  return found.length === 0 ? none : found;
}
