// Real records through the real decoder and line: no schema error on a legitimate shape, and every key fact a
// record carries appears in its line. The key facts are listed here, apart from the profiles, as raw record paths;
// the figures they give are the ones the README quotes (the last test checks the README against them).
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { decodeRecord } from '../shared/records/decode';
import { escapeLineValue } from '../shared/records/escape';
import { formatLine } from '../shared/records/line';
import { profileByRecordType } from '../shared/records/profiles';
import { sensitiveTypeName, valueName, type ValueTable } from '../shared/records/value-names';
import valueTables from '../shared/records/value-names.json';
import enumTables from '../shared/records/enum-tables.json';
import { fixturePath, readFixture, repoRoot } from './support/fixtures';

type Rec = Record<string, unknown>;

/** A raw record path ('*' walks every element of a list) and, for enum-valued fields, the table naming it. */
type KeyFact = readonly [path: string, table?: ValueTable];

// What an analyst needs from each family, per the issue and the schema page; paths as real records spell them.
const keyFacts: ReadonlyMap<string, readonly KeyFact[]> = new Map<string, readonly KeyFact[]>([
  ['defenderMail', [['Verdict'], ['DeliveryAction'], ['LatestDeliveryLocation'], ['DetectionMethod'], ['P1Sender'], ['P2Sender'], ['SenderIp'], ['Recipients.*'], ['Subject'], ['AttachmentData.*.FileName'], ['AttachmentData.*.FileVerdict', 'fileVerdict'], ['Policy', 'threatPolicy'], ['PolicyAction', 'policyAction']]],
  ['safeLinksClick', [['Url'], ['URL'], ['URLClickAction', 'urlClickAction'], ['UserIp'], ['AppName'], ['TimeOfClick']]],
  ['defenderFile', [['FileData.FileName'], ['FileData.FileVerdict', 'fileVerdict'], ['FileData.SHA256'], ['DetectionMethod']]],
  ['mailSubmission', [['Subject'], ['P2Sender'], ['Recipients.*']]],
  ['quarantine', [['RequestType', 'requestType'], ['ReleaseTo']]],
  ['dlp', [['PolicyDetails.*.PolicyName'], ['PolicyDetails.*.Rules.*.RuleName'], ['SharePointMetaData.FileName'], ['SharePointMetaData.FileOwner'], ['SharePointMetaData.IsViewableByExternalUsers'], ['ExchangeMetaData.From'], ['ExchangeMetaData.To.*'], ['ExchangeMetaData.Subject'], ['PolicyDetails.*.Rules.*.ConditionsMatched.SensitiveInformation.*.SensitiveInformationTypeName']]],
  ['sharePoint', [['ObjectId'], ['SearchQueryText'], ['TargetUserOrGroupName']]],
  ['search', [['QueryText'], ['SearchQueryText']]],
  ['mipLabel', [['LabelName'], ['LabelAction'], ['Sender'], ['Receivers.*'], ['ItemName']]],
  ['messageEncryption', [['Sender'], ['Recipient'], ['AuthenticationStatus', 'omeStatus'], ['OperationStatus', 'omeStatus']]],
  ['communicationCompliance', [['SRPolicyMatchDetails.SRPolicyName'], ['ObjectId']]],
  ['eDiscovery', [['Case'], ['ObjectId'], ['Query']]],
  ['teamsApp', [['AddOnName'], ['AddOnType', 'addOnType']]],
  ['teams', [['TeamName']]],
  ['securityAlert', [['Name'], ['Severity'], ['Category']]],
  ['cloudAppsAlert', [['AlertDisplayName'], ['AlertSeverity'], ['AlertCategory']]],
  ['airInvestigation', [['InvestigationName'], ['Status']]],
  ['exchangeAdmin', [['ObjectId'], ['Parameters.*.Name']]],
  ['exchangeItem', [['Item.Subject'], ['SendAsUserSmtp'], ['recipientList.*.Address']]],
  ['exchangeItemAggregated', [['OperationProperties.0.Value']]],
  ['entraStsLogon', [['LogonError'], ['ObjectId']]],
  ['entraDirectory', [['ModifiedProperties.*.Name']]],
  ['entraAccountLogon', [['Application'], ['LoginStatus']]],
  ['powerBi', [['Activity']]],
  ['forms', [['FormName']]],
  ['copilot', [['CopilotEventData.AppHost']]],
  ['complianceCmdlet', [['ObjectId']]],
]);

function valuesAt(value: unknown, steps: readonly string[]): unknown[] {
  if (steps.length === 0) return [value];
  if (value === null || typeof value !== 'object') return [];
  const [step, ...rest] = steps as [string, ...string[]];
  if (step === '*') return Array.isArray(value) ? value.flatMap((v) => valuesAt(v, rest)) : [];
  return Object.hasOwn(value, step) ? valuesAt((value as Rec)[step], rest) : [];
}

/** The key facts of `record` that its line does not show, as `path=value`. */
function missingFacts(record: unknown, line: string, profile: string): string[] {
  const missing: string[] = [];
  for (const [factPath, table] of keyFacts.get(profile) ?? []) {
    for (const value of valuesAt(record, factPath.split('.'))) {
      if (value === null || value === undefined || value === '' || typeof value === 'object') continue;
      const written = String(value).trim();
      const named = table !== undefined ? String(valueName(table, value)) : written;
      if (!line.includes(escapeLineValue(written)) && !line.includes(escapeLineValue(named))) missing.push(`${factPath}=${written}`);
    }
  }
  return missing;
}

const realWorldDir = fixturePath('real-world');
const realWorldFiles = readdirSync(realWorldDir).filter((f) => f.endsWith('.json')).map((f) => path.join(realWorldDir, f));
const familiesFile = path.join(repoRoot, 'test', 'fixtures', 'record-families.json');
// edge/ is left out on purpose: it holds deliberately malformed records whose schema errors are the point.
const otherFiles = [...['content', 'msdocs'].flatMap((dir) => readdirSync(fixturePath(dir)).filter((f) => f.endsWith('.json')).map((f) => fixturePath(dir, f))), familiesFile];
const readRecords = (file: string): unknown[] => JSON.parse(readFileSync(file, 'utf8')) as unknown[];

interface Survey {
  records: number;
  schemaErrors: string[];
  linesMissingFacts: string[];
  profilesSeen: Set<string>;
}

function survey(files: readonly string[]): Survey {
  const result: Survey = { records: 0, schemaErrors: [], linesMissingFacts: [], profilesSeen: new Set() };
  for (const file of files) {
    for (const record of readRecords(file)) {
      result.records++;
      const decoded = decodeRecord(record);
      const line = formatLine(decoded);
      result.profilesSeen.add(decoded.profile.name);
      const where = `${path.basename(file)} ${String((record as Rec).Operation)}`;
      for (const e of decoded.schemaErrors) result.schemaErrors.push(`${where}: ${e}`);
      const missing = missingFacts(record, line, decoded.profile.name);
      if (missing.length > 0) result.linesMissingFacts.push(`${where}: ${missing.join(', ')} in ${line}`);
    }
  }
  return result;
}

const realWorld = survey(realWorldFiles);
const others = survey(otherFiles);
const dedicatedCount = Object.keys(enumTables.recordType).filter((v) => profileByRecordType.has(Number(v))).length;

describe('real records through the profiles', () => {
  it('decodes every real-world record without a schema error', () => {
    assert.ok(realWorld.records >= 123, `only ${realWorld.records} real-world records`);
    assert.deepEqual(realWorld.schemaErrors, []);
  });

  it('decodes the corpus, the Microsoft samples and the family records without a schema error', () => {
    assert.deepEqual(others.schemaErrors, []);
  });

  it('shows in each line every key fact its record carries (real-world records)', () => {
    assert.deepEqual(realWorld.linesMissingFacts, []);
  });

  it('shows in each line every key fact its record carries (corpus, samples, families)', () => {
    assert.deepEqual(others.linesMissingFacts, []);
  });

  it('exercises every profile that has key facts with at least one record', () => {
    const seen = new Set([...realWorld.profilesSeen, ...others.profilesSeen]);
    for (const profile of keyFacts.keys()) assert.ok(seen.has(profile), `no fixture record for ${profile}`);
  });

  it('the key-fact check can fail: a line without its facts is caught', () => {
    const mail = readRecords(familiesFile).find((r) => (r as Rec).Operation === 'TIMailData')!;
    const bare = formatLine(decodeRecord({ ...(mail as Rec), RecordType: 9999, Workload: 'Unknown' }));
    assert.ok(missingFacts(mail, bare, 'defenderMail').length >= 5);
  });
});

describe('Defender for Office 365 and DLP lines', () => {
  const families = readRecords(familiesFile) as Rec[];
  const lineOf = (predicate: (r: Rec) => boolean) => formatLine(decodeRecord(families.find(predicate)!));

  it('names enum numbers (attachment verdicts, policy, action) and keeps names sent as names', () => {
    const numeric = lineOf((r) => r.Operation === 'TIMailData' && r.Policy === 10);
    assert.match(numeric, /, Attachments: Remittance_0514\.html \(Bad\), logo\.png \(Good\),/);
    assert.match(numeric, /, Policy: Safe attachment, SAP, PolicyAction: Quarantine,/);
    assert.match(numeric, /, Overrides: Allowed by user policy \(Allowed\),/);
    const named = lineOf((r) => r.Operation === 'TIMailData' && r.Policy === 'HighConfidencePhish');
    assert.match(named, /, Policy: HighConfidencePhish, PolicyAction: Quarantine,/);
  });

  it('shows a Safe Links override by the user', () => {
    assert.match(lineOf((r) => r.URLClickAction === 4), /, ClickAction: BlockPageOverride, UserIp: 203\.0\.113\.66, App: Mail,/);
    assert.match(lineOf((r) => r.URLClickAction === '2'), /, ClickAction: Blockpage,/);
  });

  it('names a sensitive type GUID our table knows and keeps an unknown GUID as it is, never a detected value', () => {
    const line = lineOf((r) => r.RecordType === 11);
    assert.match(line, /SensitiveTypes: Credit Card Number x12, 0e9b3178-9678-47dd-a509-37222ca96b42 x2/);
    assert.match(line, /, File: vendor_master\.xlsx, FileOwner: finance\.ap@contoso\.com, ViewableExternally: true,/);
    assert.doesNotMatch(line, /FilePath: /, 'the path is not repeated when ObjectId shows it');
  });

  it('one odd record among good ones costs only itself', () => {
    const odd = { ...families[0]!, AttachmentData: 'not a list', Policy: { toString: 1 }, PolicyAction: '__proto__', Recipients: 5, SystemOverrides: [null, 7] };
    const alone = families.map((r) => formatLine(decodeRecord(r)));
    const mixed = [...families.slice(0, 3), odd, ...families.slice(3)].map((r) => formatLine(decodeRecord(r)));
    assert.deepEqual([...mixed.slice(0, 3), ...mixed.slice(4)], alone);
    assert.match(mixed[3]!, /^2024-05-14T07:41:09 Azure Event Log: ThreatIntelligence TIMailData: ThreatIntelligence, /);
    assert.match(mixed[3]!, /, PolicyAction: __proto__,/);
  });
});

describe('value tables', () => {
  it('translate numbers and numeric strings only; names, unknown numbers and odd values stay as given', () => {
    assert.equal(valueName('fileVerdict', 1), 'Bad');
    assert.equal(valueName('fileVerdict', '-2'), 'Timeout');
    assert.equal(valueName('fileVerdict', '2'), '2');
    assert.equal(valueName('policyAction', 'MoveToJmf'), 'MoveToJmf');
    assert.equal(valueName('urlClickAction', 'constructor'), 'constructor');
    assert.equal(valueName('urlClickAction', 1.5), 1.5);
    assert.equal(sensitiveTypeName('50842EB7-EDC8-4019-85DD-5A5C1F2BB085'), 'Credit Card Number');
    assert.equal(sensitiveTypeName('__proto__'), '__proto__');
  });

  it('agree with the reference enums where both have the table, and every table cites its source', () => {
    const enums = readFixture<{ OtherEnums: Record<string, Record<string, unknown>> }>('..', 'reference', 'enums.json').OtherEnums;
    const pairs: Array<[keyof typeof valueTables, string]> = [
      ['fileVerdict', 'FileVerdict'], ['policyAction', 'PolicyAction'], ['sourceWorkload', 'SourceWorkload'], ['addOnType', 'AddOnType'],
      ['requestType', 'RequestType'], ['requestSource', 'RequestSource'], ['threatPolicy', 'ThreatPolicy (Defender for Office 365 email events: Policy)'],
    ];
    for (const [ours, theirs] of pairs) {
      const reference = enums[theirs]!;
      for (const [value, name] of Object.entries(reference)) {
        if (!/^-?\d+$/.test(value)) continue;
        // SourceWorkload: the schema's table says "SharePoint Online"; enums.json shortens it to "SharePoint".
        const ourName = String((valueTables[ours] as Record<string, unknown>)[value]);
        assert.ok(ourName.startsWith(String(name)), `${ours} ${value}: ${ourName} vs ${String(name)}`);
      }
    }
    for (const value of Object.values(enums['URLClickAction']!)) assert.ok(Object.values(valueTables.urlClickAction).includes(String(value)));
    for (const [name, table] of Object.entries(valueTables)) {
      if (name.startsWith('_')) continue;
      assert.match(String((table as Record<string, unknown>)._source), /\S{10}/, `${name} has no _source`);
    }
    for (const row of Object.entries(valueTables.sensitiveTypeName)) if (row[0] !== '_source') assert.ok((row[1] as { source?: string }).source);
  });
});

describe('README figures', () => {
  it('quotes the figures these tests measure', () => {
    const readme = readFileSync(path.join(repoRoot, 'README.md'), 'utf8');
    const sentence =
      `${realWorld.records} records decoded from the real-world fixtures, ${realWorld.schemaErrors.length} schema errors, ` +
      `${realWorld.linesMissingFacts.length} lines missing a key fact; ${dedicatedCount} of ${Object.keys(enumTables.recordType).length} ` +
      `documented RecordTypes have a dedicated profile`;
    assert.ok(readme.replace(/\s+/g, ' ').includes(sentence), `README should say: ${sentence}`);
  });
});
