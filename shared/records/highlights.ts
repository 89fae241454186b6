// Security highlights: events a security team watches (forwarding, permission grants, consent, role changes,
// auditing switched off, federation, exports, malicious mail and clicks...), tagged from ONE record. The rules are
// data in one table; matching is compiled once into a Map keyed by normalised Operation, so a record costs one
// lookup and, for the few that hit, a check of a few values. Conditions read the decoded record, where a
// PowerShell-form Parameters string is already its {Name, Value} list (schemas.ts), so both shapes match alike.
import type { DecodedRecord } from './decode';
import { compilePath, isPresent, pairValue } from './paths';

export type Severity = 'low' | 'medium' | 'high';

export interface Highlight {
  readonly name: string;
  readonly severity: Severity;
}

/** Where a condition reads its value. */
export type ValueSource =
  | { readonly parameter: string } // the Parameters {Name, Value} list, name case-insensitive
  | { readonly field: string }; // a path expression (paths.ts): 'Verdict', 'UrlClickAction|URLClickAction'

/** What the value must be. Text is compared trimmed and ignoring case; numbers as their text. */
export type ValueTest =
  | { readonly is: 'set' } // present and not empty / $null
  | { readonly is: 'true' } // True, $true or a JSON true
  | { readonly is: 'false' } // False, $false or a JSON false
  | { readonly is: 'oneOf'; readonly values: readonly (string | number)[] };

export type Condition = ValueSource & ValueTest;

export interface HighlightSpec extends Highlight {
  /** Operation names; matched ignoring case, surrounding spaces and one trailing '.' (Entra writes "Add user."). */
  readonly operations: readonly string[];
  /** RecordType values the operations are expected under; absent = any. */
  readonly recordTypes?: readonly number[];
  /** When given, at least one of these must hold. */
  readonly anyOf?: readonly Condition[];
  /** When given, every one of these must hold. */
  readonly allOf?: readonly Condition[];
}

export interface HighlightRule extends Highlight {
  matches(record: DecodedRecord): boolean;
}

const exchangeAdmin = [1];
const exchangeItem = [2];
const entraDirectory = [8];
const sharing = [14];
const complianceCmdlet = [18];
const discovery = [24];
const advancedDiscovery = [31];
const threatMail = [28];
const safeLinks = [41];
const set = (...names: string[]): Condition[] => names.map((parameter) => ({ parameter, is: 'set' as const }));
const isTrue = (parameter: string): Condition => ({ parameter, is: 'true' });
const isFalse = (parameter: string): Condition => ({ parameter, is: 'false' });

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
    anyOf: set('ForwardingSmtpAddress', 'ForwardingAddress'),
  },
  {
    name: 'inbox-rule-forwards-or-deletes',
    severity: 'high',
    operations: ['New-InboxRule', 'Set-InboxRule'],
    recordTypes: exchangeAdmin,
    anyOf: [...set('ForwardTo', 'RedirectTo', 'ForwardAsAttachmentTo'), isTrue('DeleteMessage')],
  },
  {
    // A rule made in Outlook itself (MAPI), not by cmdlet: the mailbox audit's UpdateInboxRules, whatever it does,
    // since attackers hide rules there and the record's RuleActions are free text.
    name: 'inbox-rule-changed-in-client',
    severity: 'medium',
    operations: ['UpdateInboxRules'],
    recordTypes: exchangeItem,
  },
  {
    name: 'transport-rule-changed',
    severity: 'medium',
    operations: ['New-TransportRule', 'Set-TransportRule'],
    recordTypes: exchangeAdmin,
  },
  {
    // Org-wide mail copied or sent elsewhere: the transport-rule form of forwarding.
    name: 'transport-rule-redirects-mail',
    severity: 'high',
    operations: ['New-TransportRule', 'Set-TransportRule'],
    recordTypes: exchangeAdmin,
    anyOf: set('RedirectMessageTo', 'BlindCopyTo', 'CopyTo', 'AddToRecipients'),
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
    anyOf: set('ConditionalAccessPolicy'),
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
    // Per-user MFA (the legacy "strong authentication" requirement) removed from an account.
    name: 'per-user-mfa-disabled',
    severity: 'high',
    operations: ['Disable Strong Authentication.'],
    recordTypes: entraDirectory,
  },
  {
    // An application permission (app role) given to a service principal: no user consent prompt involved.
    name: 'app-role-granted-to-service-principal',
    severity: 'high',
    operations: ['Add app role assignment to service principal.'],
    recordTypes: entraDirectory,
  },
  {
    // Persistence through an app: a new owner, or a secret or certificate added (Entra writes the en dash; some
    // exports a hyphen).
    name: 'application-owner-or-credential-added',
    severity: 'high',
    operations: [
      'Add owner to application.',
      'Add owner to service principal.',
      'Add service principal credentials.',
      'Update application \u2013 Certificates and secrets management',
      'Update application - Certificates and secrets management',
    ],
    recordTypes: entraDirectory,
  },
  {
    // Federation settings on a domain: the Golden SAML / backdoor-IdP step.
    name: 'domain-federation-changed',
    severity: 'high',
    operations: ['Set domain authentication.', 'Set federation settings on domain.'],
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
    anyOf: [isTrue('AuditBypassEnabled')],
  },
  {
    // Auditing switched off for the organisation, for the unified audit log, or for one mailbox (also by a zero
    // retention, AuditLogAgeLimit 00:00:00).
    name: 'auditing-disabled',
    severity: 'high',
    operations: ['Set-OrganizationConfig'],
    recordTypes: exchangeAdmin,
    anyOf: [isTrue('AuditDisabled')],
  },
  {
    name: 'auditing-disabled',
    severity: 'high',
    operations: ['Set-AdminAuditLogConfig'],
    recordTypes: exchangeAdmin,
    anyOf: [isFalse('UnifiedAuditLogIngestionEnabled')],
  },
  {
    name: 'auditing-disabled',
    severity: 'high',
    operations: ['Set-Mailbox'],
    recordTypes: exchangeAdmin,
    anyOf: [isFalse('AuditEnabled'), { parameter: 'AuditLogAgeLimit', is: 'oneOf', values: ['00:00:00', '0', '0.00:00:00'] }],
  },
  {
    // Mail taken out of the tenant through eDiscovery: an export started or downloaded, a review-set export, or
    // the cmdlet (New-ComplianceSearchAction -Export, whose Parameters often arrive as PowerShell text).
    name: 'ediscovery-export',
    severity: 'medium',
    operations: ['SearchExported', 'SearchExportDownloaded'],
    recordTypes: discovery,
  },
  {
    name: 'ediscovery-export',
    severity: 'medium',
    operations: ['ExportJob'],
    recordTypes: advancedDiscovery,
  },
  {
    name: 'ediscovery-export',
    severity: 'medium',
    operations: ['New-ComplianceSearchAction'],
    recordTypes: complianceCmdlet,
    anyOf: [isTrue('Export')],
  },
  {
    // Safe Links showed its block (or pending-detonation) page and the user went on: URLClickAction 4 / 5.
    name: 'malicious-url-clicked-through',
    severity: 'high',
    operations: ['TIUrlClickData'],
    recordTypes: safeLinks,
    anyOf: [{ field: 'UrlClickAction|URLClickAction', is: 'oneOf', values: [4, 5, 'BlockPageOverride', 'PendingDetonationPageOverride'] }],
  },
  {
    // Defender for Office 365 judged the message malware or phish and it still reached the inbox.
    name: 'malicious-mail-delivered',
    severity: 'high',
    operations: ['TIMailData', 'TIMailData-Inline'],
    recordTypes: threatMail,
    allOf: [{ field: 'Verdict', is: 'oneOf', values: ['Malware', 'Phish'] }],
    anyOf: [
      { field: 'DeliveryAction', is: 'oneOf', values: ['Delivered'] },
      { field: 'LatestDeliveryLocation', is: 'oneOf', values: ['Inbox'] },
    ],
  },
];

/** The key operations are looked up by: trimmed, lower case, without one trailing '.'. */
export function operationKey(operation: string): string {
  const t = operation.trim().toLowerCase();
  return t.endsWith('.') ? t.slice(0, -1) : t;
}

const textOf = (value: unknown): string | undefined =>
  typeof value === 'string' ? value.trim().toLowerCase() : typeof value === 'number' || typeof value === 'boolean' ? String(value).toLowerCase() : undefined;

type CompiledCondition = (decoded: DecodedRecord) => boolean;

function compileCondition(condition: Condition): CompiledCondition {
  const read: (decoded: DecodedRecord) => unknown =
    'parameter' in condition
      ? (d) => pairValue(d.record.Parameters, condition.parameter)
      : ((path) => (d: DecodedRecord) => path(d.record))(compilePath(condition.field));
  switch (condition.is) {
    case 'true':
      return (d) => {
        const t = textOf(read(d));
        return t === 'true' || t === '$true';
      };
    case 'false':
      return (d) => {
        const t = textOf(read(d));
        return t === 'false' || t === '$false';
      };
    case 'oneOf': {
      const wanted = new Set(condition.values.map((v) => String(v).toLowerCase()));
      return (d) => {
        const t = textOf(read(d));
        return t !== undefined && wanted.has(t);
      };
    }
    case 'set':
      return (d) => {
        const value = read(d);
        if (!isPresent(value)) return false;
        if (typeof value !== 'string') return true;
        const t = value.trim();
        return t !== '' && t.toLowerCase() !== '$null';
      };
  }
}

function compileRule(spec: HighlightSpec): HighlightRule {
  const operations = new Set(spec.operations.map(operationKey));
  const recordTypes = spec.recordTypes ? new Set(spec.recordTypes) : undefined;
  const anyOf = spec.anyOf?.map(compileCondition);
  const allOf = spec.allOf?.map(compileCondition);
  return {
    name: spec.name,
    severity: spec.severity,
    matches(decoded) {
      const { Operation, RecordType } = decoded.common;
      if (typeof Operation !== 'string' || !operations.has(operationKey(Operation))) return false;
      if (recordTypes && (RecordType == null || !recordTypes.has(RecordType))) return false;
      if (allOf !== undefined && !allOf.every((c) => c(decoded))) return false;
      return anyOf === undefined || anyOf.some((c) => c(decoded));
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
