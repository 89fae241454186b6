// Small, plausible audit records for when no fixture files are at hand: the common schema (reference §9) with a
// RecordType typical of the content type. Identities are fictitious (contoso.com, documentation IP ranges).
import { randomUUID } from 'node:crypto';
import type { ContentType } from './request-shapes.js';

const typical: Record<ContentType, { recordType: number; workload: string; operation: string }> = {
  'Audit.AzureActiveDirectory': { recordType: 15, workload: 'AzureActiveDirectory', operation: 'UserLoggedIn' },
  'Audit.Exchange': { recordType: 1, workload: 'Exchange', operation: 'Set-Mailbox' },
  'Audit.SharePoint': { recordType: 6, workload: 'SharePoint', operation: 'FileAccessed' },
  'Audit.General': { recordType: 25, workload: 'MicrosoftTeams', operation: 'TeamsSessionStarted' },
  'DLP.All': { recordType: 13, workload: 'Exchange', operation: 'DlpRuleMatch' },
};

export function generateRecords(tenantId: string, contentType: ContentType, count: number, now: Date): Record<string, unknown>[] {
  const shape = typical[contentType];
  return Array.from({ length: count }, (_, i) => ({
    CreationTime: new Date(now.getTime() - (count - i) * 1000).toISOString().slice(0, 19),
    Id: randomUUID(),
    Operation: shape.operation,
    OrganizationId: tenantId,
    RecordType: shape.recordType,
    ResultStatus: 'Succeeded',
    UserKey: contentType === 'DLP.All' ? 'DlpAgent' : '10032001A2B3C4D5',
    UserType: 0,
    Version: 1,
    Workload: shape.workload,
    ClientIP: `192.0.2.${(i % 250) + 1}`,
    ObjectId: `simulated-object-${i}`,
    UserId: 'priya.raman@contoso.com',
  }));
}
