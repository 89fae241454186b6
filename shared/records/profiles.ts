// Which schema checks a record and which fields its line shows: data tables keyed by RecordType, with a
// Workload fallback for values newer than our tables. Field lists are [label, source] pairs where source
// is a path expression (see paths.ts) or '=derivation' (see derived-values.ts). Each list answers, for an
// analyst: who (the header), from where (ClientIP), did what (Operation), to what (these fields). The tables
// are Maps: a Workload of `constructor` or `__proto__` is just an unknown workload.
import type { RecordFamily } from './schemas';

export type LineField = readonly [label: string, source: string];

export interface RecordProfile {
  readonly name: string;
  readonly family: RecordFamily;
  readonly fields: readonly LineField[];
}

// The mailbox fields in the order the reference lines show them (seed-vectors.json), then what the
// seed records do not carry.
const mailboxFields: readonly LineField[] = [
  ['LogonType', 'LogonType'],
  ['ClientInfoString', 'ClientInfoString'],
  ['ClientProcessName', 'ClientProcessName'],
  ['Item_Path', 'Item.ParentFolder.Path|Folder.Path|AffectedItems.0.ParentFolder.Path'],
  ['OriginatingServer', 'OriginatingServer'],
  ['Item_Subject', 'Item.Subject|AffectedItems.0.Subject'],
];

const profileList: readonly RecordProfile[] = [
  {
    name: 'exchangeAdmin',
    family: 'exchangeAdmin',
    fields: [
      ['ObjectId', 'ObjectId'],
      ['ModifiedObjectResolvedName', 'ModifiedObjectResolvedName'],
      ['OriginatingServer', 'OriginatingServer'],
      ['Parameters', '=parameters'],
    ],
  },
  {
    name: 'exchangeItem',
    family: 'exchangeItem',
    fields: [
      ...mailboxFields,
      ['Mailbox_Owner', '=mailboxOwnerIfOther'],
      ['SendAs', 'SendAsUserSmtp'],
      ['SendOnBehalfOf', 'SendOnBehalfOfUserSmtp'],
      ['Recipients', '=recipients'],
      ['Attachments', 'Item.Attachments'],
      ['Rule', 'OperationProperties[RuleName]'],
    ],
  },
  {
    name: 'exchangeItemGroup',
    family: 'exchangeItemGroup',
    fields: [
      ...mailboxFields,
      ['Mailbox_Owner', '=mailboxOwnerIfOther'],
      ['Dest_Path', 'DestFolder.Path'],
      ['Dest_Mailbox', 'DestMailboxOwnerUPN'],
      ['Item_Count', '=affectedItemCountIfSeveral'],
    ],
  },
  {
    name: 'exchangeItemAggregated',
    family: 'exchangeItemAggregated',
    fields: [
      ['LogonType', 'LogonType'],
      ['ClientInfoString', 'ClientInfoString'],
      ['ClientProcessName', 'ClientProcessName'],
      ['MailAccessType', 'OperationProperties[MailAccessType]'],
      ['IsThrottled', 'OperationProperties[IsThrottled]'],
      ['Mailbox_Owner', '=mailboxOwnerIfOther'],
      ['App', 'AppAccessContext.ClientAppName|ClientAppId|AppId'],
      ['Folder_Count', '=folderCount'],
      ['Item_Count', '=folderItemCount'],
      ['Folders', '=folderPaths'],
      ['OperationCount', 'OperationCount'],
      ['OriginatingServer', 'OriginatingServer'],
    ],
  },
  {
    name: 'sharePoint',
    family: 'sharePoint',
    fields: [
      ['ItemType', 'ItemType'],
      ['ObjectId', 'ObjectId'],
      ['Destination', 'DestinationRelativeUrl'],
      ['DestinationFileName', 'DestinationFileName'],
      ['SharedWith', 'TargetUserOrGroupName|UserSharedWith'],
      ['SharedWithType', 'TargetUserOrGroupType'],
      ['EventData', 'EventData'],
      ['Query', 'SearchQueryText'],
      ['App', 'ApplicationDisplayName|AppAccessContext.ClientAppName'],
      ['ManagedDevice', 'IsManagedDevice'],
      ['Machine', 'MachineDomainInfo'],
      ['UserAgent', 'UserAgent'],
    ],
  },
  {
    name: 'entraDirectory',
    family: 'entraDirectory',
    fields: [
      ['Target', '=entraTarget'],
      ['ModifiedProperties', '=modifiedProperties'],
      ['AdditionalDetails', 'ExtendedProperties[additionalDetails]'],
    ],
  },
  {
    name: 'entraAccountLogon',
    family: 'entraAccountLogon',
    fields: [
      ['Application', 'Application'],
      ['Client', 'Client'],
      ['LoginStatus', 'LoginStatus'],
      ['UserDomain', 'UserDomain'],
    ],
  },
  {
    name: 'entraStsLogon',
    family: 'entraStsLogon',
    fields: [
      ['ApplicationId', 'ApplicationId'],
      ['ErrorCode', '=errorCode'],
      ['LogonError', 'LogonError'],
      ['RequestType', 'ExtendedProperties[RequestType]'],
      ['AuthMethod', 'ExtendedProperties[UserAuthenticationMethod]'],
      ['OS', 'DeviceProperties[OS]'],
      ['Browser', 'DeviceProperties[BrowserType]'],
      ['DeviceCompliant', 'DeviceProperties[IsCompliantAndManaged]'],
      ['UserAgent', 'ExtendedProperties[UserAgent]'],
      ['ObjectId', 'ObjectId'],
    ],
  },
  {
    name: 'dlp',
    family: 'dlp',
    fields: [
      ['ObjectId', 'ObjectId'],
      ['File', 'SharePointMetaData.FileName'],
      ['FilePath', '=dlpFilePathIfOther'],
      ['FileOwner', 'SharePointMetaData.FileOwner'],
      ['ViewableExternally', 'SharePointMetaData.IsViewableByExternalUsers'],
      ['Subject', 'ExchangeMetaData.Subject'],
      ['From', 'ExchangeMetaData.From'],
      ['Recipients', '=dlpRecipients'],
      ['Device', 'EndpointMetaData.DeviceName'],
      ['Policy', '=dlpPolicies'],
      ['Rule', '=dlpRules'],
      ['Severity', '=dlpSeverity'],
      ['Actions', '=dlpActions'],
      ['OverriddenActions', '=dlpOverriddenActions'],
      ['SensitiveTypes', '=dlpSensitiveTypes'],
      ['Exception', '=dlpException'],
    ],
  },
  {
    name: 'teams',
    family: 'general',
    fields: [
      ['Team', 'TeamName'],
      ['Item', 'ItemName'],
      ['Members', '=teamsMembers'],
      ['CommunicationType', 'CommunicationType'],
      ['Client', '=clientName'],
      ['ObjectId', 'ObjectId'],
    ],
  },
  {
    name: 'powerBi',
    family: 'general',
    fields: [
      ['Activity', 'Activity'],
      ['Item', 'ItemName|ObjectId'],
      ['Workspace', 'WorkSpaceName'],
      ['Dataset', 'DatasetName'],
      ['Export', 'ExportedArtifactInfo.ExportType'],
      ['UserAgent', 'UserAgent'],
    ],
  },
  {
    name: 'forms',
    family: 'general',
    fields: [
      ['Form', 'FormName'],
      ['FormId', 'FormId|ObjectId'],
      ['SourceApp', 'SourceApp'],
      ['Activity', 'ActivityParameters'],
    ],
  },
  {
    name: 'securityAlert',
    family: 'general',
    fields: [
      ['Alert', 'Name'],
      ['Severity', 'Severity'],
      ['Category', 'Category'],
      ['Status', 'Status'],
      ['Source', 'Source'],
      ['Entity', 'AlertEntityId'],
      ['AlertId', 'AlertId|ObjectId'],
    ],
  },
  {
    name: 'complianceCmdlet',
    family: 'general',
    fields: [
      ['ObjectId', 'ObjectId'],
      ['Client', 'ClientApplication'],
      ['Parameters', '=parameters'],
    ],
  },
  {
    name: 'airInvestigation',
    family: 'general',
    fields: [
      ['Investigation', 'InvestigationName'],
      ['Type', 'InvestigationType'],
      ['Status', 'Status'],
      ['InvestigationId', 'InvestigationId'],
    ],
  },
  {
    name: 'copilot',
    family: 'general',
    fields: [
      ['AppHost', 'CopilotEventData.AppHost'],
      ['Resources', '=copilotResourceCount'],
      ['Region', 'ClientRegion'],
    ],
  },
  {
    name: 'yammer',
    family: 'general',
    fields: [
      ['Group', 'GroupName'],
      ['ObjectId', 'ObjectId'],
    ],
  },
  // --- Defender for Office 365 and Threat Investigation (schema: "Microsoft Defender for Office 365 and Threat
  // Investigation and Response schema"). Field names as real records spell them (`Url`, not the table's `URL`;
  // `DeliveryAction`, `LatestDeliveryLocation` without the table's spaces); enum numbers named by value-names.json.
  {
    name: 'defenderMail',
    family: 'general',
    fields: [
      ['Verdict', 'Verdict'],
      ['DeliveryAction', 'DeliveryAction'],
      ['LatestDeliveryLocation', 'LatestDeliveryLocation'],
      ['DetectionMethod', 'DetectionMethod'],
      ['DetectionType', 'DetectionType'],
      ['Threats', 'ThreatsAndDetectionTech'],
      ['P1Sender', 'P1Sender'],
      ['P2Sender', 'P2Sender'],
      ['SenderIp', 'SenderIp'],
      ['Recipients', 'Recipients'],
      ['Subject', 'Subject'],
      ['Attachments', '=attachmentVerdicts'],
      ['AttachmentSHA256', '=attachmentHashes'],
      ['Policy', '=threatPolicy'],
      ['PolicyAction', '=policyAction'],
      ['Overrides', '=systemOverrides'],
      ['Directionality', 'Directionality'],
      ['InternetMessageId', 'InternetMessageId'],
    ],
  },
  {
    name: 'safeLinksClick',
    family: 'general',
    fields: [
      ['Url', 'Url|URL'],
      ['ClickAction', '=urlClickAction'],
      ['UserIp', 'UserIp'],
      ['App', 'AppName'],
      ['TimeOfClick', 'TimeOfClick'],
      ['SourceId', 'SourceId'],
    ],
  },
  {
    name: 'defenderFile',
    family: 'general',
    fields: [
      ['File', 'FileData.FileName'],
      ['Verdict', '=fileVerdict'],
      ['MalwareFamily', 'FileData.MalwareFamily'],
      ['SHA256', 'FileData.SHA256'],
      ['FilePath', 'FileData.FilePath'],
      ['Source', '=sourceWorkload'],
      ['DetectionMethod', 'DetectionMethod'],
      ['LastModifiedBy', 'LastModifiedBy'],
    ],
  },
  // User-reported and admin-submitted messages (29). No public raw record of this type was found; the names are
  // the ones the schema's email events use, which submissions describe.
  {
    name: 'mailSubmission',
    family: 'general',
    fields: [
      ['Subject', 'Subject'],
      ['P1Sender', 'P1Sender'],
      ['P2Sender', 'P2Sender'],
      ['Recipients', 'Recipients'],
      ['SenderIp', 'SenderIp'],
      ['SubmissionType', 'SubmissionType'],
      ['SubmissionId', 'SubmissionId'],
      ['NetworkMessageId', 'NetworkMessageId'],
      ['ObjectId', 'ObjectId'],
    ],
  },
  {
    name: 'quarantine',
    family: 'general',
    fields: [
      ['RequestType', '=quarantineRequestType'],
      ['RequestSource', '=quarantineRequestSource'],
      ['ReleaseTo', 'ReleaseTo'],
      ['NetworkMessageId', 'NetworkMessageId'],
    ],
  },
  {
    name: 'hygiene',
    family: 'general',
    fields: [
      ['Event', 'Event'],
      ['User', 'EventValue'],
      ['Reason', 'Reason'],
    ],
  },
  // --- Purview: sensitivity labels, Message Encryption, communication compliance, eDiscovery, searches.
  {
    name: 'mipLabel',
    family: 'general',
    fields: [
      ['Label', 'LabelName|SensitivityLabelEventData.SensitivityLabelId|SensitivityLabelId|LabelId'],
      ['OldLabel', 'SensitivityLabelEventData.OldSensitivityLabelId|OldSensitivityLabelId'],
      ['LabelAction', 'LabelAction|SensitivityLabelEventData.LabelEventType'],
      ['ApplicationMode', 'ApplicationMode'],
      ['Sender', 'Sender'],
      ['Receivers', 'Receivers'],
      ['Subject', 'ItemName'],
      ['Object', 'ObjectId'], // the file URL for file labels, the message id for mail (43)
      ['App', 'Application|ApplicationName'],
      ['Device', 'DeviceName'],
    ],
  },
  {
    name: 'messageEncryption',
    family: 'general',
    fields: [
      ['Sender', 'Sender'],
      ['Recipient', 'Recipient'],
      ['MessageId', 'MessageId'],
      ['AuthenticationMethod', 'AuthenticationMethod'],
      ['AuthenticationStatus', '=omeAuthenticationStatus'],
      ['OperationStatus', '=omeOperationStatus'],
      ['Attachment', 'AttachmentName'],
    ],
  },
  {
    name: 'communicationCompliance',
    family: 'general',
    fields: [
      ['Policy', 'SRPolicyMatchDetails.SRPolicyName'],
      ['Categories', '=supervisionCategories'],
      ['From', 'ExchangeDetails.From'],
      ['Recipients', 'ExchangeDetails.Recipients'],
      ['Subject', 'ExchangeDetails.Subject'],
      ['ObjectId', 'ObjectId'],
    ],
  },
  {
    name: 'eDiscovery',
    family: 'general',
    fields: [
      ['Case', 'Case|CaseName|CaseId'],
      ['Object', 'ObjectId'],
      ['ObjectType', 'ObjectType'],
      ['Query', 'Query|QueryText'],
      ['Parameters', '=parameters'],
    ],
  },
  {
    name: 'search',
    family: 'general',
    fields: [
      ['Query', 'QueryText|SearchQueryText|Query'],
      ['Source', 'QuerySource|ClientApplication|SearchSource'],
      ['ObjectId', 'ObjectId'],
      ['DataType', 'DataType'],
    ],
  },
  // --- Teams apps and settings; alerts from Defender for Cloud Apps.
  {
    name: 'teamsApp',
    family: 'general',
    fields: [
      ['App', 'AddOnName|AzureADAppId'],
      ['AppType', '=addOnType'],
      ['Distribution', 'AppDistributionMode'],
      ['Team', 'TeamName'],
      ['AppId', 'AddOnGuid'],
    ],
  },
  {
    name: 'teamsSetting',
    family: 'general',
    fields: [
      ['Setting', 'Name'],
      ['OldValue', 'OldValue'],
      ['NewValue', 'NewValue'],
      ['Team', 'TeamName'],
    ],
  },
  {
    name: 'cloudAppsAlert',
    family: 'general',
    fields: [
      ['Alert', 'AlertDisplayName'],
      ['Severity', 'AlertSeverity'],
      ['Category', 'AlertCategory'],
      ['Apps', '=cloudAppNames'],
      ['ClientIPs', 'ClientIPs'],
      ['AlertUri', 'AlertUri'],
    ],
  },
  {
    name: 'general',
    family: 'general',
    fields: [
      ['ObjectId', 'ObjectId'],
      ['Item', 'ItemName'],
      ['Parameters', '=parameters'],
      ['ModifiedProperties', '=modifiedProperties'],
      ['UserAgent', 'UserAgent'],
    ],
  },
];

export const profiles: ReadonlyMap<string, RecordProfile> = new Map(profileList.map((p) => [p.name, p]));

/** RecordType → profile name (management-api.md §10-14 and enums.json). */
const recordTypeProfiles: Readonly<Record<number, string>> = {
  1: 'exchangeAdmin',
  2: 'exchangeItem',
  3: 'exchangeItemGroup',
  19: 'exchangeItemAggregated',
  50: 'exchangeItemAggregated',
  4: 'sharePoint',
  6: 'sharePoint',
  7: 'sharePoint',
  14: 'sharePoint',
  36: 'sharePoint',
  37: 'sharePoint',
  54: 'sharePoint',
  55: 'sharePoint',
  56: 'sharePoint',
  8: 'entraDirectory',
  9: 'entraAccountLogon',
  15: 'entraStsLogon',
  11: 'dlp',
  13: 'dlp',
  33: 'dlp',
  63: 'dlp',
  99: 'dlp',
  100: 'dlp',
  10: 'complianceCmdlet',
  18: 'complianceCmdlet',
  20: 'powerBi',
  22: 'yammer',
  25: 'teams',
  24: 'eDiscovery',
  26: 'teamsApp',
  27: 'teamsSetting',
  28: 'defenderMail',
  29: 'mailSubmission',
  31: 'eDiscovery',
  40: 'securityAlert',
  41: 'safeLinksClick',
  42: 'securityAlert',
  43: 'mipLabel',
  47: 'defenderFile',
  51: 'hygiene',
  52: 'search',
  65: 'quarantine',
  68: 'communicationCompliance',
  82: 'mipLabel',
  83: 'mipLabel',
  84: 'mipLabel',
  94: 'mipLabel',
  95: 'mipLabel',
  98: 'cloudAppsAlert',
  101: 'search',
  102: 'search',
  154: 'messageEncryption',
  64: 'airInvestigation',
  66: 'forms',
  261: 'copilot',
};

/** For RecordType values our tables do not place (new ones appear every month). */
const workloadProfiles: Readonly<Record<string, string>> = {
  sharepoint: 'sharePoint',
  onedrive: 'sharePoint',
  azureactivedirectory: 'entraDirectory',
  microsoftteams: 'teams',
  powerbi: 'powerBi',
  microsoftforms: 'forms',
  copilot: 'copilot',
  mcas: 'cloudAppsAlert',
};

export const profileByRecordType: ReadonlyMap<number, string> = new Map(
  Object.entries(recordTypeProfiles).map(([recordType, name]) => [Number(recordType), name]),
);
export const profileByWorkload: ReadonlyMap<string, string> = new Map(Object.entries(workloadProfiles));
for (const name of [...profileByRecordType.values(), ...profileByWorkload.values()]) {
  if (!profiles.has(name)) throw new Error(`profiles.ts: the tables name an unknown profile ${name}`);
}

export function profileFor(recordType: number | undefined, workload: string | undefined): RecordProfile {
  const name =
    (recordType !== undefined ? profileByRecordType.get(recordType) : undefined) ??
    (workload !== undefined ? profileByWorkload.get(workload.toLowerCase()) : undefined) ??
    'general';
  return profiles.get(name)!; // every name in the tables is checked above
}
