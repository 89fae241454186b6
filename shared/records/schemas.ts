// zod schemas of the audit record: the common schema and one per workload family of the reference
// (management-api.md §9-13). Every field is optional and every object loose: "mandatory" columns are not
// reliable in practice and unknown fields appear constantly, so the schemas check types, not presence.
// Every list-shaped field also takes one string in its place (real records send `Parameters` and other
// {Name, Value} lists as PowerShell-form text); such a string is read into the list where it parses.
import { z } from 'zod';
import { parseApiTime } from '../api-time';
import { conformsBy } from './conformance';
import { parsePowerShellParameters } from './powershell-parameters';

/** Integers that the feed sometimes sends as strings ("2"). */
export const intLike = z.preprocess(
  (v) => (typeof v === 'string' && /^\s*-?\d+\s*$/.test(v) ? Number(v) : v),
  z.number().int(),
);

/** Booleans that the feed sometimes sends as strings ("True", "false"). */
export const boolLike = z.preprocess((v) => {
  if (typeof v !== 'string') return v;
  const t = v.trim().toLowerCase();
  return t === 'true' ? true : t === 'false' ? false : v;
}, z.boolean());

const text = z.string().nullish();
const int = intLike.nullish();
const bool = boolLike.nullish();

const isApiTimeText = (v: unknown) => typeof v === 'string' && parseApiTime(v.trim()) !== undefined;
/**
 * A time the API writes as ISO 8601 (api-time.ts): an impossible one (`…T17:08:65`, `2024-02-30…`) is a schema
 * error of the record, and the field is left out of the typed view (the raw record keeps it).
 */
const time = conformsBy(z.string().refine(isApiTimeText, { error: 'not an ISO 8601 date-time' }), isApiTimeText).nullish();

export const NameValuePair = z.looseObject({ Name: z.string().nullish(), Value: z.unknown() });
export const ModifiedProperty = z.looseObject({ Name: z.string().nullish(), NewValue: z.unknown(), OldValue: z.unknown() });

/** A PowerShell-form string becomes its {Name, Value} list; anything else is left as it is. */
export const pairsFromPowerShell = (v: unknown): unknown => (typeof v === 'string' ? (parsePowerShellParameters(v) ?? v) : v);
/** A {Name, Value} list, or one string: read into the list where it is PowerShell parameter text, else kept as text. */
const nameValueList = z.preprocess(pairsFromPowerShell, z.union([z.array(NameValuePair), z.string()])).nullish();
/** Any other list: its elements, or one string in its place (kept as written). */
const listOf = <T extends z.ZodType>(element: T) => z.union([z.array(element), z.string()]).nullish();
/** ModifiedProperties: {Name, NewValue, OldValue} objects in admin and Entra records, names in mailbox records. */
const modifiedProperties = listOf(z.union([ModifiedProperty, z.string()]));

export const AppAccessContext = z.looseObject({
  AADSessionId: text, APIId: text, ClientAppId: text, ClientAppName: text, CorrelationId: text, UniqueTokenId: text,
  IssuedAtTime: time,
});

export const AuditRecord = z.looseObject({
  Id: text,
  RecordType: int,
  CreationTime: text,
  Operation: text,
  OrganizationId: text,
  UserType: int,
  UserKey: text,
  Workload: text,
  ResultStatus: text,
  ObjectId: text,
  UserId: text,
  ClientIP: text,
  Scope: int,
  Version: int,
  AppAccessContext: AppAccessContext.nullish(),
});
export type AuditRecord = z.infer<typeof AuditRecord>;

// --- Exchange -------------------------------------------------------------------------------------------
const ExchangeFolder = z.looseObject({ Id: text, Path: text, Name: text, MemberSid: text, MemberRights: text, MemberUpn: text });
const ExchangeItem = z.looseObject({
  Id: text, Subject: text, ParentFolder: ExchangeFolder.nullish(), Attachments: text, ImmutableId: text,
  InternetMessageId: text, SizeInBytes: int, Sensitivity: text,
});
const EmailAddress = z.looseObject({ Address: text, Name: text });

export const ExchangeAdminFields = z.looseObject({
  ModifiedObjectResolvedName: text,
  Parameters: nameValueList,
  ModifiedProperties: modifiedProperties,
  ExternalAccess: bool,
  OriginatingServer: text,
  OrganizationName: text,
  SessionId: text,
  TokenObjectId: text,
  TokenTenantId: text,
});

export const MailboxAuditFields = z.looseObject({
  LogonType: int,
  InternalLogonType: int,
  MailboxGuid: text,
  MailboxOwnerUPN: text,
  MailboxOwnerSid: text,
  LogonUserSid: text,
  LogonUserDisplayName: text,
  ExternalAccess: bool,
  OriginatingServer: text,
  OrganizationName: text,
  ClientInfoString: text,
  ClientIPAddress: text,
  ClientMachineName: text,
  ClientProcessName: text,
  ClientVersion: text,
  SessionId: text,
  AppId: text,
  ClientAppId: text,
  OperationProperties: nameValueList,
  recipientCount: int,
  recipientList: listOf(EmailAddress),
});

export const ExchangeItemFields = MailboxAuditFields.extend({
  Item: ExchangeItem.nullish(),
  ModifiedProperties: modifiedProperties,
  SendAsUserSmtp: text,
  SendOnBehalfOfUserSmtp: text,
  SaveToSentItems: bool,
});

export const ExchangeItemGroupFields = MailboxAuditFields.extend({
  Folder: ExchangeFolder.nullish(),
  DestFolder: ExchangeFolder.nullish(),
  Folders: listOf(ExchangeFolder),
  AffectedItems: listOf(ExchangeItem),
  CrossMailboxOperation: bool,
  CrossMailboxOperations: bool,
  DestMailboxId: text,
  DestMailboxOwnerUPN: text,
});

export const ExchangeItemAggregatedFields = MailboxAuditFields.extend({
  OperationCount: int,
  Folders: listOf(ExchangeFolder.extend({ FolderItems: listOf(ExchangeItem) })),
  Messages: listOf(z.looseObject({ Id: text, Path: text, MessageItems: listOf(z.looseObject({ Id: text, SizeInBytes: int })) })),
});

// --- SharePoint / OneDrive -------------------------------------------------------------------------------
export const SharePointFields = z.looseObject({
  Site: text, ItemType: text, EventSource: text, SourceName: text, UserAgent: text, MachineDomainInfo: text, MachineId: text,
  ListItemUniqueId: text, ListId: text, ApplicationId: text, ApplicationDisplayName: text, IsWorkflow: bool,
  SiteUrl: text, SourceRelativeUrl: text, SourceFileName: text, SourceFileExtension: text,
  DestinationRelativeUrl: text, DestinationFileName: text, DestinationFileExtension: text,
  UserSharedWith: text, SharingType: text, TargetUserOrGroupName: text, TargetUserOrGroupType: text, EventData: text,
  UniqueSharingId: text, IsManagedDevice: bool, DeviceDisplayName: text,
});

// --- Microsoft Entra ID ----------------------------------------------------------------------------------
const Identity = z.looseObject({ ID: text, Type: int });
const EntraBase = z.looseObject({
  AzureActiveDirectoryEventType: int,
  ExtendedProperties: nameValueList,
  ModifiedProperties: modifiedProperties,
});
export const EntraDirectoryFields = EntraBase.extend({
  Actor: listOf(Identity), Target: listOf(Identity), ActorContextId: text, TargetContextId: text,
  ActorIpAddress: text, InterSystemsId: text, IntraSystemId: text, SupportTicketId: text,
});
export const EntraAccountLogonFields = EntraBase.extend({ Application: text, Client: text, LoginStatus: int, UserDomain: text });
export const EntraStsLogonFields = EntraDirectoryFields.extend({
  ApplicationId: text, Client: text, DeviceProperties: nameValueList, ErrorCode: z.union([z.string(), z.number()]).nullish(),
  ErrorNumber: z.union([z.string(), z.number()]).nullish(), LogonError: text,
});

// --- DLP -------------------------------------------------------------------------------------------------
const DlpRule = z.looseObject({
  RuleId: text, RuleName: text, Actions: listOf(z.string()), OverriddenActions: listOf(z.string()),
  Severity: text, RuleMode: text,
  ConditionsMatched: z.looseObject({ SensitiveInformation: listOf(z.looseObject({ SensitiveInformationTypeName: text, SensitiveType: text, Count: int, Confidence: int })) }).nullish(),
});
export const DlpFields = z.looseObject({
  IncidentId: text,
  PolicyDetails: listOf(z.looseObject({ PolicyId: text, PolicyName: text, Rules: listOf(DlpRule) })),
  SensitiveInfoDetectionIsIncluded: bool,
  SharePointMetaData: z.looseObject({ FilePathUrl: text, FileName: text, FileOwner: text, SiteCollectionUrl: text, itemCreationTime: time, LastModifiedTime: time }).nullish(),
  ExchangeMetaData: z.looseObject({ MessageID: text, From: text, To: listOf(z.string()), CC: listOf(z.string()), BCC: listOf(z.string()), Subject: text, RecipientCount: int, Sent: time }).nullish(),
  EndpointMetaData: z.looseObject({ DeviceName: text, FileExtension: text, FileType: text, EnforcementMode: int }).nullish(),
  // The schema types ExceptionInfo as a string while also defining an object; both are seen.
  ExceptionInfo: z.union([z.string(), z.looseObject({ Reason: text, FalsePositive: bool, Justification: text })]).nullish(),
});

// --- everything else (Audit.General) -----------------------------------------------------------------------
// Shapes vary across the many workloads here, so only the string form of the {Name|Key, Value} lists is read and
// the documented times are checked; any other shape of these fields is taken as it is.
const anyPairList = z.preprocess(pairsFromPowerShell, z.unknown()).optional();
export const GeneralFields = z.looseObject({
  Parameters: anyPairList,
  ExtendedProperties: anyPairList,
  ExtraProperties: anyPairList,
  OperationProperties: anyPairList,
  DeviceProperties: anyPairList,
  // Defender for Office 365 mail (28), Safe Links clicks (41), AIR investigations (64): management-api schema.
  MessageTime: time,
  TimeOfClick: time,
  StartTimeUtc: time,
  LastUpdateTimeUtc: time,
});

export const familySchemas = {
  exchangeAdmin: ExchangeAdminFields,
  exchangeItem: ExchangeItemFields,
  exchangeItemGroup: ExchangeItemGroupFields,
  exchangeItemAggregated: ExchangeItemAggregatedFields,
  sharePoint: SharePointFields,
  entraDirectory: EntraDirectoryFields,
  entraAccountLogon: EntraAccountLogonFields,
  entraStsLogon: EntraStsLogonFields,
  dlp: DlpFields,
  general: GeneralFields,
} as const;
export type RecordFamily = keyof typeof familySchemas;
