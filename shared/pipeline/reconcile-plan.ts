// The fan-out reconcile's plans, as pure data and decisions. The timer only plans: one plan per stream (tenant ×
// content type), opened in the stream's ledger row under its ETag, then one queue message per tenant carrying the
// steps of its streams' plans (a tenant's streams share its API budget; 5,000 messages per interval would be 1,000).
// Each stream step is one listing window; the rest of a range goes to a follow-up message for the next step. A
// plan is opened again only when the previous one finished or went untouched for `planLeaseMs` (a lost message, a
// crashed instance): backpressure, so a slow stream never has two plans listing it at once.
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { ApiTime } from '../api-time';
import { ContentType, contentTypes } from '../api/content-types';

const TenantId = z.string().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
const PlanId = z.string().min(1).max(64);
/** Which window of the plan a step lists (0 first); a step whose number is not the plan's is a duplicate. */
const StepNumber = z.number().int().nonnegative();

/** One step of one stream's plan: what reconcileStep runs. Also the message shape before batches (still read). */
export const StreamStep = z.object({
  tenantId: TenantId,
  contentType: ContentType,
  planId: PlanId,
  step: StepNumber,
  /** The end of the plan's range: the instant it was planned. */
  until: ApiTime,
});
export type StreamStep = z.infer<typeof StreamStep>;

/** A stream's place in a tenant's message: its plan and the step due. */
export const PlannedStream = z.object({ contentType: ContentType, planId: PlanId, step: StepNumber });
export type PlannedStream = z.infer<typeof PlannedStream>;

/** One o365-reconcile message: a step of each of 1..5 of a tenant's streams, planned at the same instant. */
export const ReconcileBatch = z.object({
  tenantId: TenantId,
  until: ApiTime,
  streams: z
    .array(PlannedStream)
    .min(1)
    .max(contentTypes.length)
    .refine((streams) => new Set(streams.map((s) => s.contentType)).size === streams.length, 'a content type appears twice'),
});

/**
 * What the o365-reconcile queue carries, read as a batch. A single-stream message (the shape before batches, still
 * in flight during an upgrade) is read as a batch of one.
 */
export const ReconcileMessage = z.union([
  ReconcileBatch,
  StreamStep.transform(({ tenantId, until, contentType, planId, step }) => ({ tenantId, until, streams: [{ contentType, planId, step }] })),
]);
export type ReconcileMessage = z.infer<typeof ReconcileBatch>;

/** Why `input` is not a reconcile message, for the shape it was meant as (a batch when it has `streams`). */
export function reconcileMessageIssues(input: unknown, error: z.ZodError): string[] {
  const meant = typeof input === 'object' && input !== null && 'streams' in input ? 0 : 1;
  // Names the fields, never their values.
  return error.issues
    .flatMap((issue) => (issue.code === 'invalid_union' ? (issue.errors[meant] ?? []) : [issue]))
    .map((i) => `${i.path.join('.') || '(message)'}: ${i.message}`);
}

/** The batch's stream steps, each as reconcileStep takes it. */
export const streamSteps = (message: ReconcileMessage): StreamStep[] =>
  message.streams.map((s) => ({ tenantId: message.tenantId, until: message.until, ...s }));

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

/**
 * Opens `planId` unless a live plan holds the stream or this plan was opened already; `undefined`: write nothing.
 * A plan is opened once: its first step may open it and finish it before the timer's own open arrives (the timer
 * sends before it opens), and opening it again would leave it waiting at step 0 for a message already handled.
 */
export function decideOpenPlan(current: PlanState | undefined, planId: string, now: Date, leaseMs = planLeaseMs): PlanState | undefined {
  if (current?.planId === planId || isPlanOpen(current, now, leaseMs)) return undefined;
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

/**
 * Whether a first step finds its plan not opened yet and may open it itself: the timer sends a tenant's message
 * before it opens the plans, so an instance that dies in between strands nothing. Not when the plan is this one
 * (already opened: a duplicate) or another live plan holds the stream (backpressure).
 */
export function opensOwnPlan(plan: PlanState | undefined, step: Pick<StreamStep, 'planId' | 'step'>, now: Date, leaseMs = planLeaseMs): boolean {
  return step.step === 0 && plan?.planId !== step.planId && !isPlanOpen(plan, now, leaseMs);
}

/** Whether a stream step is the one its plan is waiting for (a duplicate or a stale plan's step is not). */
export function isCurrentStep(plan: PlanState | undefined, step: Pick<StreamStep, 'planId' | 'step'>): boolean {
  return plan !== undefined && plan.finishedAt === undefined && plan.planId === step.planId && plan.step === step.step;
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
