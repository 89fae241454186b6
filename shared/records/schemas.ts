// zod schemas of the audit record: the common schema and one per workload family of the reference
// (management-api.md §9-13). Every field is optional and every object loose: "mandatory" columns are not
// reliable in practice and unknown fields appear constantly, so the schemas check types, not presence.
import { z } from 'zod';

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

export const NameValuePair = z.looseObject({ Name: z.string().nullish(), Value: z.unknown() });
export const ModifiedProperty = z.looseObject({ Name: z.string().nullish(), NewValue: z.unknown(), OldValue: z.unknown() });
const nameValueList = z.array(NameValuePair).nullish();

export const AppAccessContext = z.looseObject({
  AADSessionId: text, APIId: text, ClientAppId: text, ClientAppName: text, CorrelationId: text, UniqueTokenId: text,
  IssuedAtTime: text,
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
  ModifiedProperties: z.array(ModifiedProperty).nullish(),
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
  recipientList: z.array(EmailAddress).nullish(),
});

export const ExchangeItemFields = MailboxAuditFields.extend({
  Item: ExchangeItem.nullish(),
  ModifiedProperties: z.array(z.string()).nullish(),
  SendAsUserSmtp: text,
  SendOnBehalfOfUserSmtp: text,
  SaveToSentItems: bool,
});

export const ExchangeItemGroupFields = MailboxAuditFields.extend({
  Folder: ExchangeFolder.nullish(),
  DestFolder: ExchangeFolder.nullish(),
  Folders: z.array(ExchangeFolder).nullish(),
  AffectedItems: z.array(ExchangeItem).nullish(),
  CrossMailboxOperation: bool,
  CrossMailboxOperations: bool,
  DestMailboxId: text,
  DestMailboxOwnerUPN: text,
});

export const ExchangeItemAggregatedFields = MailboxAuditFields.extend({
  OperationCount: int,
  Folders: z.array(ExchangeFolder.extend({ FolderItems: z.array(ExchangeItem).nullish() })).nullish(),
  Messages: z.array(z.looseObject({ Id: text, Path: text, MessageItems: z.array(z.looseObject({ Id: text, SizeInBytes: int })).nullish() })).nullish(),
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
  ModifiedProperties: z.array(ModifiedProperty).nullish(),
});
export const EntraDirectoryFields = EntraBase.extend({
  Actor: z.array(Identity).nullish(), Target: z.array(Identity).nullish(), ActorContextId: text, TargetContextId: text,
  ActorIpAddress: text, InterSystemsId: text, IntraSystemId: text, SupportTicketId: text,
});
export const EntraAccountLogonFields = EntraBase.extend({ Application: text, Client: text, LoginStatus: int, UserDomain: text });
export const EntraStsLogonFields = EntraDirectoryFields.extend({
  ApplicationId: text, Client: text, DeviceProperties: nameValueList, ErrorCode: z.union([z.string(), z.number()]).nullish(),
  ErrorNumber: z.union([z.string(), z.number()]).nullish(), LogonError: text,
});

// --- DLP -------------------------------------------------------------------------------------------------
const DlpRule = z.looseObject({
  RuleId: text, RuleName: text, Actions: z.array(z.string()).nullish(), OverriddenActions: z.array(z.string()).nullish(),
  Severity: text, RuleMode: text,
  ConditionsMatched: z.looseObject({ SensitiveInformation: z.array(z.looseObject({ SensitiveInformationTypeName: text, SensitiveType: text, Count: int, Confidence: int })).nullish() }).nullish(),
});
export const DlpFields = z.looseObject({
  IncidentId: text,
  PolicyDetails: z.array(z.looseObject({ PolicyId: text, PolicyName: text, Rules: z.array(DlpRule).nullish() })).nullish(),
  SensitiveInfoDetectionIsIncluded: bool,
  SharePointMetaData: z.looseObject({ FilePathUrl: text, FileName: text, FileOwner: text, SiteCollectionUrl: text }).nullish(),
  ExchangeMetaData: z.looseObject({ MessageID: text, From: text, To: z.array(z.string()).nullish(), CC: z.array(z.string()).nullish(), BCC: z.array(z.string()).nullish(), Subject: text, RecipientCount: int }).nullish(),
  EndpointMetaData: z.looseObject({ DeviceName: text, FileExtension: text, FileType: text, EnforcementMode: int }).nullish(),
  // The schema types ExceptionInfo as a string while also defining an object; both are seen.
  ExceptionInfo: z.union([z.string(), z.looseObject({ Reason: text, FalsePositive: bool, Justification: text })]).nullish(),
});

// --- everything else (Audit.General) -----------------------------------------------------------------------
export const GeneralFields = z.looseObject({});

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
