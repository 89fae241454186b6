// Realistic audit records in bulk, for benchmarks and load tests: the shapes and sizes of the fixture
// corpus (Exchange admin and mailbox records, SharePoint file operations, Entra sign-ins, DLP matches),
// varied by a seeded generator so runs are repeatable. Identities are fictitious.

const tenant = '3e1a9b42-f5fb-49f0-ad1b-05d97491bc66';
const users = ['nora.lindqvist', 'samir.haddad', 'priya.raman', 'ben.okafor', 'tomas.ek', 'helpdesk.tier1'];
const subjects = ['Invoice 88412', 'RE: Updated remittance details', 'Weekly sync', 'Pipeline Q2 review', 'Offer letter', 'Your parcel is waiting'];
const files = ['Vendor master data 2024.xlsx', 'Payment run 2024-05-15.csv', 'Pipeline Q2.pptx', 'Travel policy v7.docx'];

/** mulberry32: small, fast, seedable. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Template = (ctx: { id: string; time: string; user: string; ip: string; pick: <T>(xs: readonly T[]) => T; n: number }) => Record<string, unknown>;

const common = (ctx: Parameters<Template>[0], recordType: number, workload: string, operation: string) => ({
  CreationTime: ctx.time,
  Id: ctx.id,
  Operation: operation,
  OrganizationId: tenant,
  RecordType: recordType,
  ResultStatus: 'Succeeded',
  UserKey: `10032001${ctx.n.toString(16).padStart(8, '0').toUpperCase()}`,
  UserType: 0,
  Version: 1,
  Workload: workload,
  ClientIP: ctx.ip,
  UserId: ctx.user,
});

const mailbox = (ctx: Parameters<Template>[0]) => ({
  AppId: '00000002-0000-0ff1-ce00-000000000000',
  ClientAppId: '',
  ClientIPAddress: ctx.ip,
  ClientInfoString: ctx.pick(['Client=OWA;Action=ViaProxy', 'Client=MSExchangeRPC', 'Client=REST;Client=RESTSystem;;']),
  ExternalAccess: false,
  InternalLogonType: 0,
  LogonType: ctx.pick([0, 0, 0, 2]),
  LogonUserSid: 'S-1-5-21-1111111111-2222222222-3333333333-4444444',
  MailboxGuid: '5a1c9e7b-2d4f-4e8a-b6c3-9f0e1d2c3b4a',
  MailboxOwnerSid: 'S-1-5-21-1111111111-2222222222-3333333333-4444444',
  MailboxOwnerUPN: ctx.user,
  OrganizationName: 'contoso.onmicrosoft.com',
  OriginatingServer: 'CO8PR11MB6051 (15.20.7544.014)',
  SessionId: ctx.id.slice(0, 8) + '-0000-4000-8000-000000000000',
});

const templates: readonly Template[] = [
  (ctx) => ({
    ...common(ctx, 1, 'Exchange', ctx.pick(['New-InboxRule', 'Set-Mailbox', 'Add-MailboxPermission'])),
    ObjectId: `NAMPR11A004.PROD.OUTLOOK.COM/Microsoft Exchange Hosted Organizations/contoso.onmicrosoft.com/${ctx.id}`,
    AppId: '', ClientAppId: '', ExternalAccess: false, OrganizationName: 'contoso.onmicrosoft.com',
    OriginatingServer: 'PH1PR17MB3383 (15.20.7544.014)',
    Parameters: [
      { Name: 'Identity', Value: ctx.user },
      { Name: 'ForwardTo', Value: 'j.moreau@example.net' },
      { Name: 'Name', Value: ctx.pick(subjects) },
      { Name: 'StopProcessingRules', Value: 'True' },
    ],
  }),
  (ctx) => ({
    ...common(ctx, 2, 'Exchange', ctx.pick(['Update', 'Create', 'Send'])),
    ...mailbox(ctx),
    Item: { Id: `RgAAAAD2yM0x0a7sQ5m1Cq0wX7qn${ctx.n}`, ParentFolder: { Id: 'LgAAAAD2yM0x0a7sQ5m1Cq0wX7qnAQC', Path: '\\Drafts' }, Subject: ctx.pick(subjects), SizeInBytes: 40213 },
    ModifiedProperties: ['Body', 'Subject'],
  }),
  (ctx) => ({
    ...common(ctx, 3, 'Exchange', ctx.pick(['SoftDelete', 'MoveToDeletedItems', 'HardDelete'])),
    ...mailbox(ctx),
    CrossMailboxOperation: false,
    Folder: { Id: 'LgAAAAD2yM0x0a7sQ5m1Cq0wX7qnAQD', Path: '\\Inbox' },
    AffectedItems: [1, 2].map((k) => ({ Id: `RgAAAAD2yM0x${ctx.n}${k}`, ParentFolder: { Id: 'LgAAAAD2yM0x0a7sQ5m1Cq0wX7qnAQD', Path: '\\Inbox' }, Subject: ctx.pick(subjects) })),
  }),
  (ctx) => ({
    ...common(ctx, 50, 'Exchange', 'MailItemsAccessed'),
    ...mailbox(ctx),
    OperationProperties: [{ Name: 'MailAccessType', Value: 'Bind' }, { Name: 'IsThrottled', Value: 'False' }],
    OperationCount: 2,
    Folders: [{ Id: 'LgAAAAD2yM0x0a7sQ5m1Cq0wX7qnAQE', Path: '\\Inbox', FolderItems: [{ InternetMessageId: `<${ctx.id}@example.net>`, SizeInBytes: 18344 }, { InternetMessageId: `<${ctx.n}@contoso.com>`, SizeInBytes: 9211 }] }],
  }),
  (ctx) => {
    const file = ctx.pick(files);
    return {
      ...common(ctx, 6, 'SharePoint', ctx.pick(['FileAccessed', 'FileDownloaded', 'FileModified'])),
      ObjectId: `https://contoso.sharepoint.com/sites/Finance/Shared Documents/Vendors/${file}`,
      CorrelationId: ctx.id, EventSource: 'SharePoint', ItemType: 'File', ListId: '67614663-abed-4742-8207-fc9a90cf45cc',
      ListItemUniqueId: 'b81b0796-8d3f-41ed-83d0-8920de855d81', Site: 'a7f4569c-0deb-4d38-aeda-bd99b140a83f',
      UserAgent: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Edg/124.0.0.0',
      WebId: '5c09d63f-5378-4ccd-a5d9-9791a475a773', GeoLocation: 'EUR', IsManagedDevice: false,
      SourceFileExtension: file.split('.').pop(), SiteUrl: 'https://contoso.sharepoint.com/sites/Finance/',
      SourceFileName: file, SourceRelativeUrl: 'Shared Documents/Vendors',
    };
  },
  (ctx) => ({
    ...common(ctx, 15, 'AzureActiveDirectory', ctx.pick(['UserLoggedIn', 'UserLoginFailed'])),
    ResultStatus: 'Success',
    ObjectId: '00000003-0000-0000-c000-000000000000',
    AzureActiveDirectoryEventType: 1,
    ExtendedProperties: [
      { Name: 'ResultStatusDetail', Value: 'Success' },
      { Name: 'UserAgent', Value: 'Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0' },
      { Name: 'RequestType', Value: 'OAuth2:Authorize' },
    ],
    ModifiedProperties: [],
    Actor: [{ ID: ctx.id, Type: 0 }, { ID: ctx.user, Type: 5 }],
    ActorContextId: tenant, ActorIpAddress: ctx.ip, InterSystemsId: ctx.id, IntraSystemId: ctx.id, SupportTicketId: '',
    Target: [{ ID: '00000003-0000-0000-c000-000000000000', Type: 0 }], TargetContextId: tenant,
    ApplicationId: '4765445b-32c6-49b0-83e6-1d93765276ca',
    DeviceProperties: [{ Name: 'OS', Value: 'Linux' }, { Name: 'BrowserType', Value: 'Firefox' }, { Name: 'IsCompliantAndManaged', Value: 'False' }],
    ErrorNumber: '0',
  }),
  (ctx) => ({
    ...common(ctx, 13, 'Exchange', 'DlpRuleMatch'),
    UserKey: 'DlpAgent', UserId: 'DlpAgent', ClientIP: undefined,
    IncidentId: ctx.id,
    ExchangeMetaData: { BCC: [], CC: [], From: ctx.user, MessageID: `<${ctx.id}@contoso.com>`, RecipientCount: 1, Sent: ctx.time, Subject: ctx.pick(subjects), To: ['accounts@example.org'] },
    PolicyDetails: [{ PolicyId: 'f4132a13-1208-4202-a861-e2fc2a050a68', PolicyName: 'Financial data - external mail', Rules: [{ RuleId: 'cf732f8b-616f-4f36-b7d1-d289faeaa4db', RuleName: 'Bank data sent externally', Actions: ['NotifyUser'], Severity: 'Medium', RuleMode: 'Enforce', ConditionsMatched: { SensitiveInformation: [{ Confidence: 85, Count: 2, SensitiveType: '50842eb7-edc8-4019-85dd-5a5c1f2bb085', SensitiveInformationTypeName: 'Credit Card Number' }] } }] }],
    SensitiveInfoDetectionIsIncluded: false,
  }),
];

export interface GeneratorOptions {
  seed?: number;
  start?: Date;
  /** Every `every`-th record is an Exchange admin record of about `bytes` (one long parameter), as a huge record. */
  large?: { every: number; bytes: number };
}

/** An admin cmdlet with a long list parameter, the shape that makes real audit records megabytes long. */
function largeRecord(ctx: Parameters<Template>[0], bytes: number): Record<string, unknown> {
  const record = { ...templates[0]!(ctx), Operation: 'Set-HostedContentFilterPolicy', Parameters: [] as Array<{ Name: string; Value: string }> };
  const senders: string[] = [];
  for (let size = JSON.stringify(record).length; size < bytes; size += 27) senders.push(`s${(senders.length % 1e6).toString().padStart(6, '0')}@example-sender.net`);
  record.Parameters = [{ Name: 'Identity', Value: 'Default' }, { Name: 'BlockedSenders', Value: senders.join(';') }];
  return record;
}

/** `count` records, one template after another, times rising by a second. */
export function* generateRecords(count: number, options: GeneratorOptions = {}): Generator<Record<string, unknown>> {
  const random = seededRandom(options.seed ?? 1);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
  const start = (options.start ?? new Date('2024-05-14T00:00:00Z')).getTime();
  for (let n = 0; n < count; n++) {
    const hex = (k: number) => Math.floor(random() * 16 ** k).toString(16).padStart(k, '0');
    const id = `${hex(8)}-${hex(4)}-4${hex(3)}-a${hex(3)}-${hex(12)}`;
    const ctx = { id, n, pick, time: new Date(start + n * 1000).toISOString().slice(0, 19), user: `${pick(users)}@contoso.com`, ip: `203.0.113.${1 + (n % 250)}` };
    const large = options.large;
    yield large && n % large.every === large.every - 1 ? largeRecord(ctx, large.bytes) : templates[n % templates.length]!(ctx);
  }
}

/** A content blob (JSON array, one record per line) of `count` generated records, in chunks of ~1 MB. */
export function* generateContentBlob(count: number, options: GeneratorOptions = {}): Generator<Buffer> {
  let text = '[';
  let first = true;
  for (const record of generateRecords(count, options)) {
    text += (first ? '\n' : ',\n') + JSON.stringify(record);
    first = false;
    if (text.length >= 1 << 20) {
      yield Buffer.from(text);
      text = '';
    }
  }
  yield Buffer.from(text + '\n]\n');
}
