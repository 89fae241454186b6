// What the timers do now: plan, never work. The reconciler's timer plans each stream whose previous plan finished
// or expired (backpressure), sends one message per tenant with those streams, then opens their plans in the
// ledger (a first step opens its own plan if the timer did not get to it); the keeper's timer sends one message
// per tenant. Queue-triggered functions do the work, so
// every instance shares it.
import type { ContentType } from '../api/content-types';
import { errorFields, type Logger } from '../log';
import { mapLimited } from '../map-limited';
import type { Ledger } from './ledger';
import { isPlanOpen, newPlanId, type KeepMessage, type PlannedStream, type ReconcileMessage } from './reconcile-plan';

export interface PlanDeps {
  ledger: Ledger;
  tenants: ReadonlyArray<{ tenantId: string; contentTypes: readonly ContentType[] }>;
  enqueue(messages: readonly ReconcileMessage[]): Promise<void>;
  now: () => Date;
  logger: Logger;
  /** Tenants planned at once, each opening its streams' plans together (one ETag-guarded write each). Default 4. */
  concurrency?: number;
}

export interface PlanReport {
  /** Streams planned. */
  planned: number;
  /** o365-reconcile messages sent: one per tenant with at least one stream planned. */
  messages: number;
  /** Streams whose previous plan is still running: not planned again this time. */
  busy: Array<{ tenantId: string; contentType: ContentType }>;
  /** Streams whose plan could not be read or whose message could not be sent (a storage error): tried again later. */
  failed: number;
}

export async function planReconcile(deps: PlanDeps): Promise<PlanReport> {
  const now = deps.now();
  // A whole second, as the API lists (rounded up, as the client rounds a window's end, so content created in this
  // second is listed): a 24 h lookback from it is exactly one window, not one and a sliver.
  const until = new Date(Math.ceil(now.getTime() / 1000) * 1000).toISOString();
  const tenants = streamsByTenant(deps.tenants);
  const report: PlanReport = { planned: 0, messages: 0, busy: [], failed: 0 };
  /** A stream free to plan (its last plan finished or expired) gets a new plan id; a busy one is reported. */
  const planStream = async (tenantId: string, contentType: ContentType): Promise<PlannedStream | undefined> => {
    try {
      if (!isPlanOpen((await deps.ledger.readPlan(tenantId, contentType)).plan, now)) return { contentType, planId: newPlanId(), step: 0 };
      report.busy.push({ tenantId, contentType });
    } catch (err) {
      // One stream's ledger trouble must not stop its tenant's other streams, nor the other tenants.
      report.failed++;
      deps.logger.error('stream not planned', { tenantId, contentType, ...errorFields(err) });
    }
    return undefined;
  };
  const planTenant = async ([tenantId, contentTypes]: [string, ContentType[]]): Promise<void> => {
    const streams = (await Promise.all(contentTypes.map((contentType) => planStream(tenantId, contentType)))).filter((s) => s !== undefined);
    if (streams.length === 0) return;
    try {
      // Sent first, then the plans opened: a first step that finds its plan not opened yet opens it itself
      // (reconcile-plan.ts opensOwnPlan), so an instance dying in between strands no stream. Sent at once, so
      // other instances start while this one still plans (1,000 tenants take a while).
      await deps.enqueue([{ tenantId, until, streams }]);
      report.planned += streams.length;
      report.messages++;
    } catch (err) {
      report.failed += streams.length;
      deps.logger.error('streams not planned: their message was not sent', { tenantId, contentTypes: streams.map((s) => s.contentType), ...errorFields(err) });
      return;
    }
    // Opened here for backpressure as soon as possible (the step may have done it already: then this is a no-op).
    await Promise.all(streams.map(({ contentType, planId }) => deps.ledger.openPlan(tenantId, contentType, planId, now).catch((err: unknown) =>
      deps.logger.warn('plan not opened by the timer: its first step opens it', { tenantId, contentType, ...errorFields(err) }))));
  };
  await mapLimited(tenants, deps.concurrency ?? 4, planTenant);
  return report;
}

/** A tenant named twice (settings and registry) is still one message, each content type once. */
function streamsByTenant(tenants: PlanDeps['tenants']): Array<[string, ContentType[]]> {
  const byTenant = new Map<string, Set<ContentType>>();
  for (const { tenantId, contentTypes } of tenants) {
    const types = byTenant.get(tenantId) ?? new Set<ContentType>();
    for (const contentType of contentTypes) types.add(contentType);
    byTenant.set(tenantId, types);
  }
  return [...byTenant].map(([tenantId, types]) => [tenantId, [...types]]);
}

export function keepMessages(tenants: ReadonlyArray<{ tenantId: string }>): KeepMessage[] {
  return tenants.map(({ tenantId }) => ({ tenantId }));
}
