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
  /** Sends a stream's follow-up step (the rest of its range) as a message of its own. */
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
  // Sent the moment the stream's plan moved, not after the batch's slowest stream: an instance that dies in between
  // would leave the plan waiting for its 15-minute lease. A send that fails fails the step (a retry finds it stale:
  // that plan expires and is planned again), as with one stream per message.
  const stepDeps: StepDeps = {
    ...deps,
    enqueueStep: ({ contentType, planId, step }: StreamStep) => deps.enqueueFollowUp({ tenantId: message.tenantId, until: message.until, streams: [{ contentType, planId, step }] }),
  };
  const steps = streamSteps(message);
  const outcomes = await Promise.allSettled(steps.map((step) => reconcileStep(step, stepDeps)));
  const report: BatchReport = { tenantId: message.tenantId, steps: [], refused: [], retry: [] };
  outcomes.forEach((outcome, i) => {
    const { contentType } = steps[i]!;
    if (outcome.status === 'fulfilled') report.steps.push(outcome.value);
    else if (outcome.reason instanceof ManagementApiError && !outcome.reason.retryable) report.refused.push({ contentType, error: outcome.reason });
    else report.retry.push({ contentType, error: outcome.reason });
  });
  return report;
}
