// host.json: the settings the dev host honours, with the defaults of the real host and the storage extension
// (QueuesOptions.cs). Anything else in host.json is accepted and ignored.
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { z } from 'zod';

/** .NET TimeSpan text as host.json uses it: `[d.]hh:mm:ss[.fffffff]`. */
export function parseTimeSpan(text: string): number {
  const match = /^(?:(\d+)\.)?(\d{1,2}):(\d{1,2}):(\d{1,2})(?:\.(\d{1,7}))?$/.exec(text.trim());
  if (!match) throw new Error(`"${text}" is not a TimeSpan (expected [d.]hh:mm:ss[.fff]).`);
  const [, days = '0', hours = '0', minutes = '0', seconds = '0', fraction = ''] = match;
  const ms = Number(`0.${fraction || '0'}`) * 1000;
  return ((Number(days) * 24 + Number(hours)) * 60 + Number(minutes)) * 60_000 + Number(seconds) * 1000 + Math.round(ms);
}

const timeSpan = z.string().transform((text, ctx) => {
  try {
    return parseTimeSpan(text);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message });
    return z.NEVER;
  }
});

export const hostJsonSchema = z.object({
  version: z.literal('2.0').optional(),
  /** "-1" means no limit (Premium/Dedicated only in Azure). */
  functionTimeout: z.union([z.literal('-1'), timeSpan]).optional(),
  extensions: z.object({
    http: z.object({ routePrefix: z.string().optional() }).loose().optional(),
    queues: z.object({
      batchSize: z.number().int().min(1).max(32).optional(),
      newBatchThreshold: z.number().int().min(0).optional(),
      maxDequeueCount: z.number().int().min(1).optional(),
      visibilityTimeout: timeSpan.optional(),
      maxPollingInterval: timeSpan.optional(),
      messageEncoding: z.enum(['base64', 'none']).optional(),
    }).loose().optional(),
  }).loose().optional(),
}).loose();

export interface QueueSettings {
  batchSize: number;
  newBatchThreshold: number;
  maxDequeueCount: number;
  visibilityTimeoutMs: number;
  maxPollingIntervalMs: number;
  messageEncoding: 'base64' | 'none';
}

export interface HostSettings {
  routePrefix: string;
  /** undefined: no limit. */
  functionTimeoutMs: number | undefined;
  queues: QueueSettings;
}

export const MIN_POLLING_INTERVAL_MS = 100;

export const hostDefaults = {
  routePrefix: 'api',
  // Consumption plan's default, the strictest one: code that passes here passes on every plan.
  functionTimeoutMs: 5 * 60_000,
  batchSize: 16,
  maxDequeueCount: 5,
  visibilityTimeoutMs: 0,
  // The docs' default when running locally against the emulator (1 min in Azure).
  maxPollingIntervalMs: 2_000,
  messageEncoding: 'base64',
} as const;

export function hostSettings(hostJson: unknown): HostSettings {
  const parsed = hostJsonSchema.parse(hostJson);
  const queues = parsed.extensions?.queues ?? {};
  const batchSize = queues.batchSize ?? hostDefaults.batchSize;
  const timeout = parsed.functionTimeout;
  return {
    routePrefix: (parsed.extensions?.http?.routePrefix ?? hostDefaults.routePrefix).replace(/^\/+|\/+$/g, ''),
    functionTimeoutMs: timeout === '-1' ? undefined : timeout ?? hostDefaults.functionTimeoutMs,
    queues: {
      batchSize,
      newBatchThreshold: queues.newBatchThreshold ?? Math.floor(batchSize / 2) * availableParallelism(),
      maxDequeueCount: queues.maxDequeueCount ?? hostDefaults.maxDequeueCount,
      visibilityTimeoutMs: queues.visibilityTimeout ?? hostDefaults.visibilityTimeoutMs,
      maxPollingIntervalMs: Math.max(MIN_POLLING_INTERVAL_MS, queues.maxPollingInterval ?? hostDefaults.maxPollingIntervalMs),
      messageEncoding: queues.messageEncoding ?? hostDefaults.messageEncoding,
    },
  };
}

export function readHostSettings(hostJsonPath: string): HostSettings {
  return hostSettings(JSON.parse(readFileSync(hostJsonPath, 'utf8')));
}
