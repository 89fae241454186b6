// What a registration means to the host: its trigger and its output bindings, read from the binding metadata
// that @azure/functions builds (`toCoreFunctionMetadata`: `{ name, bindings: { <bindingName>: { type, direction,
// ...options } } }`, the return binding under `$return`).
import { z } from 'zod';
import { resolveAppSettingReferences } from './binding-expressions';
import type { FunctionMetadata } from './core-contract';

const DEFAULT_CONNECTION = 'AzureWebJobsStorage';
const connection = z.string().min(1).optional().transform((c) => c ?? DEFAULT_CONNECTION);

const triggerSchemas = {
  httptrigger: z.object({
    route: z.string().optional(),
    methods: z.array(z.string()).optional(),
    authLevel: z.string().optional(),
  }),
  queuetrigger: z.object({ queueName: z.string().min(1), connection }),
  timertrigger: z.object({ schedule: z.string().min(1), runOnStartup: z.boolean().optional() }),
};

const outputSchemas = {
  queue: z.object({ queueName: z.string().min(1), connection }),
  blob: z.object({ path: z.string().min(1), connection }),
};

export type HttpTrigger = { kind: 'http'; bindingName: string; route: string; methods: string[] };
export type QueueTrigger = { kind: 'queue'; bindingName: string; queueName: string; connection: string };
export type TimerTrigger = { kind: 'timer'; bindingName: string; schedule: string; runOnStartup: boolean };
export type Trigger = HttpTrigger | QueueTrigger | TimerTrigger;

export type Output =
  | { kind: 'http'; bindingName: string }
  | { kind: 'queue'; bindingName: string; queueName: string; connection: string }
  | { kind: 'blob'; bindingName: string; path: string; connection: string };

export interface FunctionDefinition {
  name: string;
  trigger: Trigger;
  outputs: Output[];
}

export class UnsupportedBindingError extends Error {
  override name = 'UnsupportedBindingError';
}

type Parser<T> = (functionName: string, bindingName: string, raw: Record<string, unknown>) => T;

const triggerParsers: Record<string, Parser<Trigger>> = {
  httptrigger: (functionName, bindingName, raw) => {
    const b = triggerSchemas.httptrigger.parse(raw);
    return { kind: 'http', bindingName, route: b.route ?? functionName, methods: (b.methods ?? ['GET', 'POST']).map((m) => m.toUpperCase()) };
  },
  queuetrigger: (_, bindingName, raw) => ({ kind: 'queue', bindingName, ...triggerSchemas.queuetrigger.parse(raw) }),
  timertrigger: (_, bindingName, raw) => {
    const b = triggerSchemas.timertrigger.parse(raw);
    return { kind: 'timer', bindingName, schedule: b.schedule, runOnStartup: b.runOnStartup ?? false };
  },
};

const outputParsers: Record<string, Parser<Output>> = {
  http: (_, bindingName) => ({ kind: 'http', bindingName }),
  queue: (_, bindingName, raw) => ({ kind: 'queue', bindingName, ...outputSchemas.queue.parse(raw) }),
  blob: (_, bindingName, raw) => ({ kind: 'blob', bindingName, ...outputSchemas.blob.parse(raw) }),
};

function parseWith<T>(parsers: Record<string, Parser<T>>, what: string, functionName: string, bindingName: string, raw: Record<string, unknown>): T {
  const type = String(raw['type'] ?? '');
  const parser = parsers[type.toLowerCase()];
  if (!parser) throw new UnsupportedBindingError(`Function "${functionName}": ${what} type "${type}" is not supported by the dev host.`);
  return parser(functionName, bindingName, raw);
}

const settingReferenceProperties = ['queueName', 'path', 'schedule'];

/** Reads the registrations' bindings; `%setting%` references in queue names, paths and schedules are resolved. */
export function functionDefinition(metadata: FunctionMetadata, settings: Readonly<Record<string, string | undefined>>): FunctionDefinition {
  let trigger: Trigger | undefined;
  const outputs: Output[] = [];
  for (const [bindingName, declared] of Object.entries(metadata.bindings)) {
    const raw = { ...declared };
    for (const key of settingReferenceProperties) {
      const value = raw[key];
      if (typeof value === 'string') raw[key] = resolveAppSettingReferences(value, settings);
    }
    const type = String(raw['type'] ?? '');
    if (/trigger$/i.test(type)) {
      trigger = parseWith(triggerParsers, 'trigger', metadata.name, bindingName, raw);
    } else if (raw['direction'] === 'out') {
      outputs.push(parseWith(outputParsers, 'output', metadata.name, bindingName, raw));
    } else {
      throw new UnsupportedBindingError(`Function "${metadata.name}": input binding "${type}" is not supported by the dev host.`);
    }
  }
  if (!trigger) throw new UnsupportedBindingError(`Function "${metadata.name}" has no trigger binding.`);
  return { name: metadata.name, trigger, outputs };
}
