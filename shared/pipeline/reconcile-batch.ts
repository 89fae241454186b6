// One o365-reconcile message: a step of each of a tenant's planned streams, run together (reconcileStep each).
// One stream's failure costs only itself in the same pass: the others list, enqueue and move their plans all the
// same. A stream the API refuses for good (no subscription, disabled, consent) is reported and left to the next
// timer run; a passing failure (throttling, a 5xx, storage) is reported as `retry`, and the caller fails the
// message only after every other stream finished, so the host's retry finds those steps stale and lists nothing.
import type { ContentType } from '../api/content-types';
import { ManagementApiError } from '../api/errors';
import { reconcileStep, type StepDeps, type StepReport } from './reconcile';
import { streamSteps, type ReconcileMessage, type StreamStep } from './reconcile-plan';

export interface BatchDeps extends Omit<StepDeps, 'enqueueStep'> {
  /** Sends the streams' follow-up steps (the rest of their ranges): one message for the tenant. */
  enqueueFollowUp(message: ReconcileMessage): Promise<void>;
}

export interface BatchReport {
  tenantId: string;
  /** Streams whose step ran (listed a window, or found it stale: a duplicate or a replaced plan). */
  steps: StepReport[];
  /** Streams the API will not list until someone acts: not retried now, the plan expires, the next run tries again. */
  refused: Array<{ contentType: ContentType; error: ManagementApiError }>;
  /** Streams whose step failed for a passing reason: the message must be handed back to the host to retry. */
  retry: Array<{ contentType: ContentType; error: unknown }>;
}

export async function reconcileBatch(message: ReconcileMessage, deps: BatchDeps): Promise<BatchReport> {
  const followUps: StreamStep[] = [];
  const stepDeps: StepDeps = { ...deps, enqueueStep: async (next) => void followUps.push(next) };
  const steps = streamSteps(message);
  const outcomes = await Promise.allSettled(steps.map((step) => reconcileStep(step, stepDeps)));
  const report: BatchReport = { tenantId: message.tenantId, steps: [], refused: [], retry: [] };
  outcomes.forEach((outcome, i) => {
    const { contentType } = steps[i]!;
    if (outcome.status === 'fulfilled') report.steps.push(outcome.value);
    else if (outcome.reason instanceof ManagementApiError && !outcome.reason.retryable) report.refused.push({ contentType, error: outcome.reason });
    else report.retry.push({ contentType, error: outcome.reason });
  });
  // The plans that moved wait for these steps; all of the tenant's go in one message (its `until` is theirs too).
  // A send that fails is a retry like any other (the retried steps are stale: those plans expire and are planned again).
  if (followUps.length > 0) {
    const streams = followUps.map(({ contentType, planId, step }) => ({ contentType, planId, step }));
    await deps.enqueueFollowUp({ tenantId: message.tenantId, until: message.until, streams }).catch((error: unknown) => {
      for (const { contentType } of streams) report.retry.push({ contentType, error });
    });
  }
  return report;
}
