// The fan-out reconcile's plans, as pure data and decisions. The timer only plans: one plan per stream (tenant ×
// content type), opened in the stream's ledger row under its ETag, then one queue message per plan. Each message
// is one step: one listing window; the rest of the range goes to a follow-up message for the next step. A plan
// is opened again only when the previous one finished or went untouched for `planLeaseMs` (a lost message, a
// crashed instance): backpressure, so a slow stream never has two plans listing it at once.
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { ApiTime } from '../api-time';
import { ContentType } from '../api/content-types';

export const ReconcileMessage = z.object({
  tenantId: z.string().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/),
  contentType: ContentType,
  planId: z.string().min(1).max(64),
  /** Which window of the plan this message lists (0 first); a message whose step is not the plan's is a duplicate. */
  step: z.number().int().nonnegative(),
  /** The end of the plan's range: the instant it was planned. */
  until: ApiTime,
});
export type ReconcileMessage = z.infer<typeof ReconcileMessage>;

/** The subscription keeper's fan-out: one check per tenant. */
export const KeepMessage = z.object({
  tenantId: z.string().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/),
});
export type KeepMessage = z.infer<typeof KeepMessage>;

/** What a stream row keeps of its plan; absent when no plan was ever opened. */
export interface PlanState {
  planId: string;
  step: number;
  plannedAt: Date;
  /** The last time a step of the plan moved it on (or it was opened): a live plan is touched at least this often. */
  touchedAt: Date;
  /** Set when the plan's last window was listed: the stream is free to be planned again. */
  finishedAt?: Date | undefined;
}

/**
 * A step may run up to the function timeout (10 min); a plan not touched for longer than that plus a margin is
 * dead (its message was lost, or the instance died between two steps) and the stream may be planned again.
 */
export const planLeaseMs = 15 * 60_000;

export const newPlanId = (): string => randomUUID();

export function isPlanOpen(plan: PlanState | undefined, now: Date, leaseMs = planLeaseMs): boolean {
  return plan !== undefined && plan.finishedAt === undefined && now.getTime() - plan.touchedAt.getTime() < leaseMs;
}

/** Opens `planId` unless a live plan holds the stream; `undefined`: write nothing (the stream is still busy). */
export function decideOpenPlan(current: PlanState | undefined, planId: string, now: Date, leaseMs = planLeaseMs): PlanState | undefined {
  if (isPlanOpen(current, now, leaseMs)) return undefined;
  return { planId, step: 0, plannedAt: now, touchedAt: now };
}

/**
 * Moves the plan past `step`: to the next step, or finished when `done`. `undefined` when the message is not the
 * plan's current step (a duplicate, or a plan replaced after it expired): it must change nothing and send nothing.
 */
export function decideAdvancePlan(current: PlanState | undefined, planId: string, step: number, done: boolean, now: Date): PlanState | undefined {
  if (current === undefined || current.planId !== planId || current.step !== step || current.finishedAt !== undefined) return undefined;
  return { ...current, step: step + 1, touchedAt: now, ...(done ? { finishedAt: now } : {}) };
}

/** Whether a message is the step its plan is waiting for (a duplicate or a stale plan's message is not). */
export function isCurrentStep(plan: PlanState | undefined, message: Pick<ReconcileMessage, 'planId' | 'step'>): boolean {
  return plan !== undefined && plan.finishedAt === undefined && plan.planId === message.planId && plan.step === message.step;
}

export interface StreamReconcileTimes {
  tenantId: string;
  contentType: ContentType;
  /** When the last plan of the stream finished (every window listed). */
  lastReconciled?: Date | undefined;
  /** When the last plan was opened. */
  plannedAt?: Date | undefined;
}

/**
 * Streams that missed two reconcile intervals: not reconciled for over two intervals, though planned at least
 * that long ago (a stream planned for the first time moments ago is not late). For health.
 */
export function overdueStreams<S extends StreamReconcileTimes>(streams: readonly S[], now: Date, intervalMs: number): S[] {
  const limit = now.getTime() - 2 * intervalMs;
  return streams.filter((s) => {
    if (s.lastReconciled !== undefined) return s.lastReconciled.getTime() < limit;
    return s.plannedAt !== undefined && s.plannedAt.getTime() < limit;
  });
}
