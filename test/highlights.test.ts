import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { decodeRecord } from '../shared/records/decode';
import { toAuditEvent } from '../shared/records/event-json';
import { compileFilter, FilterConfig } from '../shared/records/filters';
import { highlightSpecs, highlightsOf } from '../shared/records/highlights';
import { formatLine } from '../shared/records/line';
import { readFixture, recordFixtureFiles } from './support/fixtures';

type Rec = Record<string, unknown>;
const content = (file: string) => readFixture<Rec[]>('content', file);
const exchange = content('Audit.Exchange.json');
const entra = content('Audit.AzureActiveDirectory.json');
const sharePoint = content('Audit.SharePoint.json');
const allContent = ['Audit.Exchange.json', 'Audit.AzureActiveDirectory.json', 'Audit.SharePoint.json', 'Audit.General.json', 'DLP.All.json'].flatMap(content);

const find = (records: Rec[], test: (r: Rec) => boolean, what: string): Rec => {
  const found = records.find(test);
  assert.ok(found, `no fixture record: ${what}`);
  return found;
};
const op = (records: Rec[], operation: string, extra: (r: Rec) => boolean = () => true) =>
  find(records, (r) => r.Operation === operation && extra(r), operation);
const param = (r: Rec, name: string) => (r.Parameters as Array<{ Name: string; Value: string }>).find((p) => p.Name === name)?.Value;
/** A fixture record with another Operation and/or Parameters, for rules no fixture record exercises. */
const variant = (r: Rec, changes: Rec): Rec => ({ ...structuredClone(r), ...changes });
const names = (r: Rec) => highlightsOf(decodeRecord(r)).map((h) => h.name);

const realWorld = ['blueteam0ps-det-eng-samples.json', 'log2timeline-plaso.json'].flatMap((f) => readFixture<Rec[]>('real-world', f));
const addMailboxPermission = op(exchange, 'Add-MailboxPermission');
const addMemberToRole = op(entra, 'Add member to role.');
const forwardingRule = op(exchange, 'New-InboxRule', (r) => param(r, 'ForwardTo') !== undefined);
const transportRule = op(exchange, 'New-TransportRule');
const auditConfig = op(exchange, 'Set-AdminAuditLogConfig');
const complianceCmdlet = find(content('Audit.General.json'), (r) => r.RecordType === 18, 'a RecordType 18 cmdlet record');
/** Defender for Office 365 records (none in the fixtures): shapes from the schema reference and published records. */
const threatMail: Rec = {
  CreationTime: '2023-07-04T11:16:04', Id: '933c4e85-59d6-d6a0-635e-0df5985013ce', Operation: 'TIMailData', RecordType: 28,
  OrganizationId: '3e1a9b42-f5fb-49f0-ad1b-05d97491bc66', UserId: 'ThreatIntel', UserKey: 'ThreatIntel', UserType: 4, Version: 1,
  Workload: 'ThreatIntelligence', Verdict: 'Phish', DeliveryAction: 'Delivered', LatestDeliveryLocation: 'Inbox',
  OriginalDeliveryLocation: 'Inbox', P1Sender: 'billing@example.net', P2Sender: 'billing@example.net', SenderIp: '198.51.100.20',
  Recipients: ['nora.lindqvist@contoso.com'], Subject: 'Updated remittance details', MessageTime: '2023-07-04T11:15:13',
  Directionality: 'Inbound', DetectionMethod: 'Spoof external domain',
};
const urlClick: Rec = {
  CreationTime: '2022-07-07T10:10:52', Id: '47bf7844-15bf-4cf2-91a3-15b32ceb89b5', Operation: 'TIUrlClickData', RecordType: 41,
  OrganizationId: '3e1a9b42-f5fb-49f0-ad1b-05d97491bc66', UserId: 'nora.lindqvist@contoso.com', UserKey: 'ThreatIntel', UserType: 4,
  Version: 1, Workload: 'ThreatIntelligence', AppName: 'Mail', SourceId: '8a8634d0-d803-4bc9-b221-2863bff6a001',
  TimeOfClick: '2022-07-07T09:33:33', Url: 'https://malicious.example.net/login', UserIp: '203.0.113.66', UrlClickAction: 4,
};
const entraOp = (operation: string) => variant(addMemberToRole, { Operation: operation });
const discovery = (operation: string, recordType = 24) => variant(complianceCmdlet, { Operation: operation, RecordType: recordType, Parameters: undefined });

// Each rule: fixture records (or marked variants of them) that should match, and ones that should not.
const cases: Array<{ rule: string; match: Rec[]; noMatch: Rec[] }> = [
  {
    rule: 'mailbox-permission-granted',
    match: [addMailboxPermission, op(exchange, 'Add-RecipientPermission')],
    noMatch: [op(exchange, 'Remove-MailboxPermission'), variant(addMailboxPermission, { RecordType: 18 })],
  },
  {
    rule: 'mailbox-folder-permission-granted',
    match: [variant(addMailboxPermission, { Operation: 'Add-MailboxFolderPermission' })],
    noMatch: [addMailboxPermission],
  },
  {
    rule: 'mailbox-forwarding-set',
    match: [
      op(exchange, 'Set-Mailbox', (r) => (param(r, 'ForwardingSmtpAddress') ?? '') !== ''),
      variant(addMailboxPermission, { Operation: 'Set-Mailbox', Parameters: [{ Name: 'ForwardingAddress', Value: 'ext-contact' }] }),
    ],
    noMatch: [
      op(exchange, 'Set-Mailbox', (r) => param(r, 'ForwardingSmtpAddress') === ''), // cleared by the admin
      op(exchange, 'Set-Mailbox', (r) => param(r, 'ForwardingSmtpAddress') === undefined),
      variant(addMailboxPermission, { Operation: 'Set-Mailbox', Parameters: [{ Name: 'ForwardingSmtpAddress', Value: '$null' }] }),
    ],
  },
  {
    rule: 'inbox-rule-forwards-or-deletes',
    match: [
      forwardingRule,
      op(exchange, 'Set-InboxRule'), // RedirectTo
      op(exchange, 'New-InboxRule', (r) => param(r, 'DeleteMessage') === 'True'), // failed attempt: still shown
      variant(forwardingRule, { Parameters: [{ Name: 'forwardasattachmentto', Value: 'x@example.net' }] }),
    ],
    noMatch: [
      op(exchange, 'Remove-InboxRule'),
      op(exchange, 'UpdateInboxRules'),
      variant(forwardingRule, { Parameters: [{ Name: 'MoveToFolder', Value: 'RSS Feeds' }, { Name: 'DeleteMessage', Value: 'False' }] }),
    ],
  },
  {
    rule: 'inbox-rule-changed-in-client',
    match: [op(exchange, 'UpdateInboxRules')],
    noMatch: [variant(op(exchange, 'UpdateInboxRules'), { RecordType: 1 }), variant(op(exchange, 'UpdateInboxRules'), { Operation: 'UpdateCalendarDelegation' })],
  },
  {
    rule: 'transport-rule-changed',
    match: [transportRule, variant(transportRule, { Operation: 'Set-TransportRule' })],
    noMatch: [op(exchange, 'New-ManagementRoleAssignment'), variant(transportRule, { Operation: 'Remove-TransportRule' })],
  },
  {
    rule: 'transport-rule-redirects-mail',
    match: [
      transportRule, // BlindCopyTo
      variant(transportRule, { Operation: 'Set-TransportRule', Parameters: '-Identity "Finance" -RedirectMessageTo "x@example.net"' }),
      variant(transportRule, { Parameters: [{ Name: 'AddToRecipients', Value: 'x@example.net' }] }),
    ],
    noMatch: [
      variant(transportRule, { Parameters: [{ Name: 'Name', Value: 'Disclaimer' }, { Name: 'ApplyHtmlDisclaimerText', Value: 'Confidential' }] }),
      variant(transportRule, { Parameters: [{ Name: 'BlindCopyTo', Value: '$null' }] }),
      variant(transportRule, { Operation: 'Remove-TransportRule' }),
    ],
  },
  {
    rule: 'conditional-access-policy-changed',
    match: [
      variant(addMemberToRole, { Operation: 'Add conditional access policy' }),
      variant(addMemberToRole, { Operation: 'Update conditional access policy.' }),
      variant(addMemberToRole, { Operation: 'Delete conditional access policy' }),
    ],
    noMatch: [op(entra, 'Add service principal.'), op(entra, 'Update user.')],
  },
  {
    rule: 'exchange-access-policy-changed',
    match: [op(exchange, 'Set-OwaMailboxPolicy'), op(exchange, 'New-AuthenticationPolicy')],
    noMatch: [
      op(exchange, 'Set-CASMailbox'),
      variant(op(exchange, 'Set-OwaMailboxPolicy'), { Parameters: [{ Name: 'Identity', Value: 'OwaMailboxPolicy-Default' }] }),
    ],
  },
  {
    rule: 'application-consent',
    match: [op(entra, 'Consent to application.')],
    noMatch: [op(entra, 'Add service principal.'), variant(op(entra, 'Consent to application.'), { RecordType: 15 })],
  },
  {
    rule: 'role-member-added',
    match: [addMemberToRole],
    noMatch: [op(entra, 'Add member to group.')],
  },
  {
    rule: 'per-user-mfa-disabled',
    match: [op(realWorld, 'Disable Strong Authentication.'), entraOp('Disable Strong Authentication')],
    noMatch: [entraOp('Enable Strong Authentication.'), variant(entraOp('Disable Strong Authentication.'), { RecordType: 15 })],
  },
  {
    rule: 'app-role-granted-to-service-principal',
    match: [entraOp('Add app role assignment to service principal.')],
    noMatch: [entraOp('Add app role assignment grant to user.'), entraOp('Remove app role assignment from service principal.')],
  },
  {
    rule: 'application-owner-or-credential-added',
    match: [
      op(entra, 'Update application \u2013 Certificates and secrets management '),
      entraOp('Update application - Certificates and secrets management'),
      entraOp('Add owner to application.'),
      entraOp('Add owner to service principal.'),
      entraOp('Add service principal credentials.'),
    ],
    noMatch: [entraOp('Remove owner from application.'), entraOp('Update application.'), op(entra, 'Add service principal.')],
  },
  {
    rule: 'domain-federation-changed',
    match: [entraOp('Set domain authentication.'), entraOp('Set federation settings on domain.')],
    noMatch: [entraOp('Verify domain.'), entraOp('Add domain to company.')],
  },
  {
    rule: 'anonymous-link-created',
    match: [op(sharePoint, 'AnonymousLinkCreated')],
    noMatch: [op(sharePoint, 'SharingSet'), op(sharePoint, 'SharingInvitationCreated')],
  },
  {
    rule: 'anonymous-link-used',
    match: [op(sharePoint, 'AnonymousLinkUsed')],
    noMatch: [op(sharePoint, 'FileDownloaded')],
  },
  {
    rule: 'mailbox-audit-bypass',
    match: [
      variant(addMailboxPermission, {
        Operation: 'Set-MailboxAuditBypassAssociation',
        Parameters: [{ Name: 'Identity', Value: 'svc-archive' }, { Name: 'AuditBypassEnabled', Value: 'True' }],
      }),
    ],
    noMatch: [
      variant(addMailboxPermission, {
        Operation: 'Set-MailboxAuditBypassAssociation',
        Parameters: [{ Name: 'Identity', Value: 'svc-archive' }, { Name: 'AuditBypassEnabled', Value: 'False' }],
      }),
      auditConfig,
    ],
  },
  {
    rule: 'auditing-disabled',
    match: [
      auditConfig, // UnifiedAuditLogIngestionEnabled False
      variant(auditConfig, { Operation: 'Set-OrganizationConfig', Parameters: [{ Name: 'AuditDisabled', Value: 'True' }] }),
      variant(auditConfig, { Operation: 'Set-OrganizationConfig', Parameters: '-AuditDisabled $true' }),
      variant(auditConfig, { Operation: 'Set-Mailbox', Parameters: [{ Name: 'Identity', Value: 'nora' }, { Name: 'AuditEnabled', Value: 'False' }] }),
      variant(auditConfig, { Operation: 'Set-Mailbox', Parameters: '-Identity nora -AuditEnabled:$false' }),
      op(realWorld, 'Set-Mailbox', (r) => param(r, 'AuditLogAgeLimit') === '00:00:00'),
      op(realWorld, 'Set-AdminAuditLogConfig'),
    ],
    noMatch: [
      variant(auditConfig, { Parameters: [{ Name: 'UnifiedAuditLogIngestionEnabled', Value: 'True' }] }),
      variant(auditConfig, { Operation: 'Set-OrganizationConfig', Parameters: [{ Name: 'AuditDisabled', Value: 'False' }] }),
      variant(auditConfig, { Operation: 'Set-Mailbox', Parameters: '-Identity nora -AuditEnabled $true' }),
      op(realWorld, 'Set-Mailbox', (r) => param(r, 'AuditLogAgeLimit') === '1.00:00:00'),
    ],
  },
  {
    rule: 'ediscovery-export',
    match: [
      discovery('SearchExported'),
      discovery('SearchExportDownloaded'),
      discovery('ExportJob', 31),
      variant(complianceCmdlet, { Operation: 'New-ComplianceSearchAction', Parameters: '-SearchName "BEC sweep 2024-05-14" -Export -Format FxStream' }),
      variant(complianceCmdlet, { Operation: 'New-ComplianceSearchAction', Parameters: [{ Name: 'SearchName', Value: 's' }, { Name: 'Export', Value: 'True' }] }),
    ],
    noMatch: [
      discovery('SearchPreviewed'),
      discovery('SearchExported', 18),
      complianceCmdlet,
      variant(complianceCmdlet, { Operation: 'New-ComplianceSearchAction', Parameters: '-SearchName "BEC sweep 2024-05-14" -Purge -PurgeType SoftDelete' }),
    ],
  },
  {
    rule: 'malicious-url-clicked-through',
    match: [urlClick, variant(urlClick, { UrlClickAction: 'PendingDetonationPageOverride' }), variant(urlClick, { UrlClickAction: undefined, URLClickAction: '5' })],
    noMatch: [variant(urlClick, { UrlClickAction: 2 }), variant(urlClick, { UrlClickAction: 'BlockPage' }), variant(urlClick, { RecordType: 28 })],
  },
  {
    rule: 'malicious-mail-delivered',
    match: [threatMail, variant(threatMail, { Verdict: 'Malware', DeliveryAction: 'DeliveredAsSpam', LatestDeliveryLocation: 'Inbox' })],
    noMatch: [
      variant(threatMail, { DeliveryAction: 'Blocked', LatestDeliveryLocation: 'Quarantine' }),
      variant(threatMail, { DeliveryAction: 'DeliveredAsSpam', LatestDeliveryLocation: 'JunkFolder' }),
      variant(threatMail, { Verdict: 'Spam' }),
    ],
  },
];

describe('security highlights', () => {
  for (const { rule, match, noMatch } of cases) {
    it(`${rule}: tags what it should and nothing else`, () => {
      for (const r of match) assert.ok(names(r).includes(rule), `${String(r.Operation)} should be ${rule}`);
      for (const r of noMatch) assert.ok(!names(r).includes(rule), `${String(r.Operation)} should not be ${rule}`);
    });
  }

  it('every rule of the table is tested above', () => {
    assert.deepEqual(new Set(cases.map((c) => c.rule)), new Set(highlightSpecs.map((s) => s.name)));
  });

  it('tags the story of 2024-05-14 and nothing else in content/', () => {
    const tagged = allContent.filter((r) => names(r).length > 0).map((r) => `${String(r.Operation)} ${names(r).join('+')}`);
    assert.deepEqual(tagged.sort(), [
      'Add member to role. role-member-added',
      'Add-MailboxPermission mailbox-permission-granted',
      'Add-RecipientPermission mailbox-permission-granted',
      'AnonymousLinkCreated anonymous-link-created',
      'AnonymousLinkUsed anonymous-link-used',
      'Consent to application. application-consent',
      'New-AuthenticationPolicy exchange-access-policy-changed',
      'New-InboxRule inbox-rule-forwards-or-deletes',
      'New-InboxRule inbox-rule-forwards-or-deletes',
      'New-TransportRule transport-rule-changed+transport-rule-redirects-mail',
      'Set-AdminAuditLogConfig auditing-disabled',
      'Set-InboxRule inbox-rule-forwards-or-deletes',
      'Set-Mailbox mailbox-forwarding-set',
      'Set-OwaMailboxPolicy exchange-access-policy-changed',
      'Update application \u2013 Certificates and secrets management  application-owner-or-credential-added',
      'UpdateInboxRules inbox-rule-changed-in-client',
    ]);
  });

  it('survives every odd record of the fixtures (edge/, msdocs/) without a throw', () => {
    for (const file of recordFixtureFiles()) {
      for (const r of JSON.parse(readFileSync(file, 'utf8')) as unknown[]) highlightsOf(decodeRecord(r));
    }
    assert.deepEqual(highlightsOf(decodeRecord(null)), []);
    assert.deepEqual(highlightsOf(decodeRecord({ Operation: 'Add-MailboxPermission' })), [], 'no RecordType: not ExchangeAdmin');
  });

  it('ends the line with Highlight: name (severity), after every other field', () => {
    const line = formatLine(decodeRecord(forwardingRule));
    assert.match(line, /, Parameters: [^\n]*StopProcessingRules=True, Highlight: inbox-rule-forwards-or-deletes \(high\)$/);
    const plain = formatLine(decodeRecord(op(exchange, 'Remove-InboxRule')));
    assert.doesNotMatch(plain, /Highlight:/);
  });

  it('keeps the seed vectors, which carry no highlight, byte for byte', () => {
    const seed = readFixture<{ cases: Array<{ record: Rec; line: string }> }>('seed-vectors.json');
    for (const vector of seed.cases) assert.equal(formatLine(decodeRecord(vector.record)), vector.line);
  });

  it('adds highlights [{name, severity}] to the JSON event only when there are some', () => {
    const decoded = decodeRecord(op(entra, 'Consent to application.'));
    const event = toAuditEvent(decoded, formatLine(decoded));
    assert.deepEqual(event.highlights, [{ name: 'application-consent', severity: 'high' }]);
    const quiet = decodeRecord(op(entra, 'Add user.'));
    assert.equal('highlights' in toAuditEvent(quiet, formatLine(quiet)), false);
  });

  it('highlightedOnly (default false) keeps only highlighted records, with the other rules still applied', () => {
    assert.equal(FilterConfig.parse({}).highlightedOnly, false);
    const decoded = allContent.map((r) => decodeRecord(r));
    const everything = compileFilter();
    assert.equal(decoded.filter((r) => everything(r)).length, decoded.length);
    const highlighted = compileFilter({ highlightedOnly: true });
    const kept = decoded.filter((r) => highlighted(r));
    assert.equal(kept.length, 16);
    assert.ok(kept.every((r) => highlightsOf(r).length > 0));
    const highlightedEntra = compileFilter({ highlightedOnly: true, include: { workloads: ['AzureActiveDirectory'] } });
    const entraOnly = decoded.filter((r) => highlightedEntra(r));
    assert.deepEqual(entraOnly.map((r) => r.common.Operation).sort(), [
      'Add member to role.',
      'Consent to application.',
      'Update application \u2013 Certificates and secrets management ',
    ]);
  });
});
