// Values the line shows that no single record field holds (counts, joined lists, pairs); each is a
// small pure function of the record, named in the field lists as '=name'.
import { truncate } from './escape';
import { maxNestingDepth, nestsDeeperThan } from './nesting';
import { compilePath, pairValue } from './paths';
import { sensitiveTypeName, valueName, type ValueTable } from './value-names';

type Rec = Record<string, unknown>;
export type Derivation = (record: Rec) => unknown;

const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const obj = (v: unknown): Rec => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Rec) : {});
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
const joined = (values: unknown[], sep = ', '): string | undefined => {
  const parts = values.map((v) => (typeof v === 'number' ? String(v) : str(v))).filter((v): v is string => v !== undefined);
  return parts.length === 0 ? undefined : parts.join(sep);
};
const unique = <T>(values: T[]): T[] => [...new Set(values)];
// Not String(v): an object with a `toString` or `valueOf` field that is not a function makes String() throw.
const countText = (v: unknown): string => (typeof v === 'number' || typeof v === 'string' ? String(v) : (JSON.stringify(v) ?? ''));

/** JSON text inside a string (CRLF-formatted arrays in ModifiedProperties) shown compactly; too deep, as written. */
export function compactJsonText(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  const t = value.trim();
  if (!(t.startsWith('{') || t.startsWith('['))) return value;
  let parsed: unknown;
  try {
    parsed = JSON.parse(t);
  } catch {
    return value;
  }
  return nestsDeeperThan(parsed, maxNestingDepth) ? value : JSON.stringify(parsed);
}

// One long value (a list of 40 service principal URLs) must not push the names after it past the line's value
// limit: each value in a Name=Value list is cut on its own, visibly.
const maxPairValueLength = 256;

function pairText(name: unknown, value: unknown): string | undefined {
  if (typeof name !== 'string' || name === '') return undefined;
  const v = compactJsonText(value);
  const text = v === undefined || v === null ? '' : typeof v === 'string' ? v : JSON.stringify(v);
  return `${name}=${truncate(text, maxPairValueLength)}`;
}

function dlpRules(record: Rec): Rec[] {
  return list(record.PolicyDetails).flatMap((policy) => list(obj(policy).Rules).map(obj));
}

function exceptionInfo(record: Rec): Rec {
  const info = record.ExceptionInfo;
  if (typeof info === 'string') {
    try {
      return obj(JSON.parse(info));
    } catch {
      return {};
    }
  }
  return obj(info);
}

/** The value at `path`, named by `table` when it is a number (value-names.json). */
function named(table: ValueTable, path: string): Derivation {
  const read = compilePath(path);
  return (r) => {
    const v = read(r);
    return v === undefined ? undefined : valueName(table, v);
  };
}

/** Each element of a list of objects as `name (detail)`, the detail left out when absent. */
function itemsWithDetail(items: unknown[], name: (o: Rec) => unknown, detail: (o: Rec) => unknown): string | undefined {
  return joined(
    items.map(obj).map((o) => {
      const n = str(name(o)) ?? (typeof name(o) === 'number' ? String(name(o)) : undefined);
      if (n === undefined) return undefined;
      const d = detail(o);
      const text = typeof d === 'number' ? String(d) : str(d);
      return text === undefined ? n : `${n} (${text})`;
    }),
  );
}

export const derivations: Readonly<Record<string, Derivation>> = {
  // Exchange admin cmdlet parameters; the SCC cmdlet record sends them as one string.
  parameters: (r) =>
    typeof r.Parameters === 'string' ? r.Parameters : joined(list(r.Parameters).map((p) => pairText(obj(p).Name, obj(p).Value)), '; '),
  affectedItemCountIfSeveral: (r) => (list(r.AffectedItems).length > 1 ? list(r.AffectedItems).length : undefined),
  mailboxOwnerIfOther: (r) => {
    const owner = str(r.MailboxOwnerUPN);
    return owner !== undefined && owner.toLowerCase() !== String(r.UserId ?? '').toLowerCase() ? owner : undefined;
  },
  recipients: (r) => joined(list(r.recipientList).map((e) => obj(e).Address)),
  folderCount: (r) => (Array.isArray(r.Folders) ? r.Folders.length : undefined),
  folderItemCount: (r) => {
    if (!Array.isArray(r.Folders) && !Array.isArray(r.Messages)) return undefined;
    const inFolders = list(r.Folders).reduce<number>((n, f) => n + list(obj(f).FolderItems).length, 0);
    const inMessages = list(r.Messages).reduce<number>((n, m) => n + list(obj(m).MessageItems).length, 0);
    return inFolders + inMessages;
  },
  folderPaths: (r) => joined(list(r.Folders).map((f) => obj(f).Path), '; '),
  modifiedProperties: (r) =>
    joined(list(r.ModifiedProperties).map((p) => (typeof p === 'string' ? p : pairText(obj(p).Name, obj(p).NewValue))), '; '),
  entraTarget: (r) => {
    const targets = list(r.Target).map(obj);
    const upns = targets.filter((t) => t.Type === 5).map((t) => t.ID); // the schema made Type a number
    return joined(upns.length > 0 ? upns : targets.slice(0, 1).map((t) => t.ID));
  },
  errorCode: (r) => {
    const code = r.ErrorCode ?? r.ErrorNumber;
    return code === '0' || code === 0 ? undefined : code;
  },
  dlpPolicies: (r) => joined(unique(list(r.PolicyDetails).map((p) => obj(p).PolicyName))),
  dlpRules: (r) => joined(unique(dlpRules(r).map((rule) => rule.RuleName))),
  dlpSeverity: (r) => joined(unique(dlpRules(r).map((rule) => rule.Severity))),
  dlpActions: (r) => joined(unique(dlpRules(r).flatMap((rule) => list(rule.Actions)))),
  dlpOverriddenActions: (r) => joined(unique(dlpRules(r).flatMap((rule) => list(rule.OverriddenActions)))),
  // Names and counts only: the detected values themselves are sensitive and never go into the line.
  dlpSensitiveTypes: (r) => {
    const found = [
      ...dlpRules(r).flatMap((rule) => list(obj(rule.ConditionsMatched).SensitiveInformation)),
      ...list(obj(r.EndpointMetaData).SensitiveInformation),
    ].map(obj);
    return joined(unique(found.map((s) => `${str(s.SensitiveInformationTypeName) ?? sensitiveTypeName(str(s.SensitiveType) ?? 'unknown')}${s.Count !== undefined ? ` x${countText(s.Count)}` : ''}`)));
  },
  dlpRecipients: (r) => {
    const meta = obj(r.ExchangeMetaData);
    return joined([...list(meta.To), ...list(meta.CC), ...list(meta.BCC)]);
  },
  dlpException: (r) => {
    const info = exceptionInfo(r);
    const parts = [str(info.Reason), info.FalsePositive === true ? 'FalsePositive' : undefined, str(info.Justification)];
    return joined(parts, ' - ');
  },
  teamsMembers: (r) => joined(list(r.Members).map((m) => obj(m).UPN)),
  copilotResourceCount: (r) => {
    const resources = obj(r.CopilotEventData).AccessedResources;
    return Array.isArray(resources) ? resources.length : undefined;
  },
  clientName: (r) => pairValue(r.ExtraProperties, 'ClientName'),
  // The SharePoint DLP file URL when ObjectId does not already show it.
  dlpFilePathIfOther: (r) => {
    const url = str(obj(r.SharePointMetaData).FilePathUrl);
    return url !== undefined && url !== r.ObjectId ? url : undefined;
  },
  // Defender for Office 365: enum-valued fields by name, attachments with their verdicts.
  threatPolicy: named('threatPolicy', 'Policy'),
  policyAction: named('policyAction', 'PolicyAction'),
  urlClickAction: named('urlClickAction', 'URLClickAction'),
  fileVerdict: named('fileVerdict', 'FileData.FileVerdict'),
  sourceWorkload: named('sourceWorkload', 'SourceWorkload'),
  attachmentVerdicts: (r) =>
    itemsWithDetail(list(r.AttachmentData), (a) => a.FileName, (a) => (a.FileVerdict === undefined ? undefined : valueName('fileVerdict', a.FileVerdict))),
  attachmentHashes: (r) => joined(unique(list(r.AttachmentData).map((a) => obj(a).SHA256))),
  systemOverrides: (r) => itemsWithDetail(list(r.SystemOverrides), (o) => o.Details, (o) => o.Result),
  // Teams apps, the encrypted message portal, quarantine: numeric enums by name.
  addOnType: named('addOnType', 'AddOnType'),
  omeAuthenticationStatus: named('omeStatus', 'AuthenticationStatus'),
  omeOperationStatus: named('omeStatus', 'OperationStatus'),
  quarantineRequestType: named('requestType', 'RequestType'),
  quarantineRequestSource: named('requestSource', 'RequestSource'),
  // Defender for Cloud Apps alerts list the apps involved as [{Name}].
  cloudAppNames: (r) => joined(unique(list(r.Applications).map((a) => obj(a).Name))),
  // Communication compliance: the categories of the rule matches.
  supervisionCategories: (r) => joined(unique(list(obj(r.SRPolicyMatchDetails).SRRuleMatchDetails).map((m) => obj(m).SRCategoryName))),
};
