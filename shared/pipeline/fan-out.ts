// What the timers do now: plan, never work. The reconciler's timer opens a plan per stream in the ledger (only
// where the previous plan finished or expired: backpressure) and sends one message per opened plan; the keeper's
// timer sends one message per tenant. Queue-triggered functions do the work, so every instance shares it.
import type { ContentType } from '../api/content-types';
import { errorFields, type Logger } from '../log';
import type { Ledger } from './ledger';
import { newPlanId, type KeepMessage, type ReconcileMessage } from './reconcile-plan';

export interface PlanDeps {
  ledger: Ledger;
  tenants: ReadonlyArray<{ tenantId: string; contentTypes: readonly ContentType[] }>;
  enqueue(messages: readonly ReconcileMessage[]): Promise<void>;
  now: () => Date;
  logger: Logger;
  /** Plans opened at once (one ETag-guarded write each). Default 16. */
  concurrency?: number;
}

export interface PlanReport {
  planned: number;
  /** Streams whose previous plan is still running: not planned again this time. */
  busy: Array<{ tenantId: string; contentType: ContentType }>;
  /** Streams whose plan could not be opened (a storage error): tried again at the next run. */
  failed: number;
}

export async function planReconcile(deps: PlanDeps): Promise<PlanReport> {
  const now = deps.now();
  // A whole second, as the API lists (rounded up, as the client rounds a window's end, so content created in this
  // second is listed): a 24 h lookback from it is exactly one window, not one and a sliver.
  const until = new Date(Math.ceil(now.getTime() / 1000) * 1000).toISOString();
  const streams = deps.tenants.flatMap(({ tenantId, contentTypes }) => contentTypes.map((contentType) => ({ tenantId, contentType })));
  let planned = 0;
  const busy: PlanReport['busy'] = [];
  let failed = 0;
  let next = 0;
  const lane = async () => {
    while (next < streams.length) {
      const stream = streams[next++]!;
      const planId = newPlanId();
      try {
        if (!(await deps.ledger.openPlan(stream.tenantId, stream.contentType, planId, now))) {
          busy.push(stream);
          continue;
        }
        // Sent at once, so other instances start while this one still plans (5,000 streams take a while).
        // A plan opened but never sent expires after planLeaseMs and is planned again then.
        const message: ReconcileMessage = { ...stream, planId, step: 0, until };
        await deps.enqueue([message]);
        planned++;
      } catch (err) {
        // One stream's ledger or queue trouble must not stop the others' plans.
        failed++;
        deps.logger.error('stream not planned', { ...stream, ...errorFields(err) });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(deps.concurrency ?? 16, streams.length) }, lane));
  return { planned, busy, failed };
}

export function keepMessages(tenants: ReadonlyArray<{ tenantId: string }>): KeepMessage[] {
  return tenants.map(({ tenantId }) => ({ tenantId }));
}
