// The dev host: loads the app's real @azure/functions registrations through the `@azure/functions-core` shim and
// runs them against Azurite: HTTP triggers on a loopback port, queue triggers with the storage extension's
// semantics, timer triggers on their NCRONTAB schedules, queue/blob outputs, host.json `functionTimeout`.
import path from 'node:path';
import { createLogger, type Logger, type LogLevel } from '../../shared/log';
import { hooks, installCoreModule, programmingModel, registrations, setSystemLog, type Registration } from './core-module';
import type { RpcInvocationResponse, RpcLogLevel } from './core-contract';
import { functionDefinition, type FunctionDefinition } from './function-bindings';
import { readHostSettings, type HostSettings } from './host-config';
import { startHttpServer, type HttpFunction, type RunningHttpServer } from './http-server';
import { invoke, type InvocationRequest } from './invocation';
import { loadApp, locateApp } from './app-loader';
import { writeOutputs } from './output-bindings';
import { DEFAULT_MESSAGE_LEASE_MS, poisonQueueName, QueueListener } from './queue-listener';
import { StorageConnections } from './storage-connections';
import { blobTimerLock, defaultHostId } from './timer-lock';
import { TimerTrigger } from './timer-trigger';

export interface StartHostOptions {
  /** App root directory (uses its package.json `main`), or a built module / glob, relative to `cwd`. */
  appPath: string;
  hostJsonPath: string;
  /** App settings, e.g. `AzureWebJobsStorage`; set on process.env while the host runs, as in Azure. */
  env?: Record<string, string>;
  /** Default 0: an ephemeral port. */
  port?: number;
  cwd?: string;
  logger?: Logger;
  /** How long a running queue message stays invisible before its lease is renewed (at half-life). Default 10 min. */
  messageLeaseMs?: number;
  /** Inbound source-address allow-list of the HTTP triggers (Azure's access restrictions); others get 403. */
  allowedSourceAddresses?: readonly string[];
}

export interface RunningHost {
  url: string;
  functions: readonly FunctionDefinition[];
  /** Runs a timer function now; rejects if the invocation failed. */
  fireTimer(name: string): Promise<void>;
  /** Resolves once nothing runs and every trigger queue is empty (visible or not). */
  idle(options?: { timeoutMs?: number }): Promise<void>;
  close(): Promise<void>;
}

// The library's own system messages are mostly chatter (e.g. deferred-binding notes); warnings stay visible.
const systemLogLevels: Record<RpcLogLevel, LogLevel | undefined> = {
  trace: 'debug', debug: 'debug', information: 'debug', warning: 'warn', error: 'error', critical: 'error', none: undefined,
};

const IDLE_CHECK_MS = 25;

export async function startHost(options: StartHostOptions): Promise<RunningHost> {
  const settings = readHostSettings(options.hostJsonPath);
  const restoreEnv = applyEnv(options.env ?? {});
  try {
    return await startWithSettings(options, settings, restoreEnv);
  } catch (err) {
    restoreEnv();
    throw err;
  }
}

async function startWithSettings(options: StartHostOptions, settings: HostSettings, restoreEnv: () => void): Promise<RunningHost> {
  const logger = options.logger ?? createLogger();
  const connections = new StorageConnections(process.env);
  const appHookData: Record<string, unknown> = {};
  let activity = 0; // bumps on every invocation start/end and queue write, so idle() sees work that slipped between checks
  let running = 0;

  installCoreModule();
  setSystemLog((level, _category, message) => {
    const method = systemLogLevels[level];
    if (method) logger[method](message, { source: '@azure/functions' });
  });
  const app = locateApp(options.appPath, options.cwd ?? process.cwd());
  loadApp(app.files);
  const model = programmingModel();
  if (model?.getCapabilities) {
    const capabilities = await model.getCapabilities({}); // also locks app.setup(), as in the worker
    if (capabilities['HttpUri']) throw new Error('app.setup({ enableHttpStream: true }) is not supported by the dev host.');
  }

  if (registrations().length === 0) {
    // Also what happens when @azure/functions was loaded and used before the shim existed ("test mode").
    throw new Error(`No functions were registered by ${app.files.join(', ')}.`);
  }
  const byName = new Map<string, { registration: Registration; definition: FunctionDefinition }>();
  for (const registration of registrations()) {
    byName.set(registration.metadata.name, { registration, definition: functionDefinition(registration.metadata, process.env) });
    if (registration.metadata.retryOptions) logger.warn('retry policy is not applied by the dev host', { function: registration.metadata.name });
  }

  async function run(name: string, request: InvocationRequest, bindingData: Record<string, unknown>): Promise<RpcInvocationResponse> {
    const entry = byName.get(name);
    if (!entry) throw new Error(`No function named "${name}".`);
    running++;
    activity++;
    try {
      const response = await invoke(entry.registration, request, { logger, timeoutMs: settings.functionTimeoutMs, appHookData });
      await writeOutputs(entry.definition, response, bindingData, {
        connections,
        messageEncoding: settings.queues.messageEncoding,
        onQueueWrite: (connection, queueName) => wakeListeners(connection, queueName),
      });
      return response;
    } finally {
      running--;
      activity++;
    }
  }

  const listeners: { connection: string; listener: QueueListener }[] = [];
  function wakeListeners(connection: string, queueName: string): void {
    activity++;
    for (const l of listeners) if (l.connection === connection && l.listener.queueName === queueName) l.listener.notify();
  }

  // Hosts sharing a storage account (AzureWebJobsStorage) fire each timer occurrence once, as in Azure.
  const hostId = process.env.AzureFunctionsWebHost__hostid ?? defaultHostId(path.basename(app.root));
  const timerLock = (name: string) => {
    try {
      return blobTimerLock(connections.blobService('Storage'), hostId, name, logger);
    } catch {
      return undefined; // no storage connection: a lone host, no lock
    }
  };
  const timers = new Map<string, TimerTrigger>();
  const httpFunctions: HttpFunction[] = [];
  for (const { definition } of byName.values()) {
    const { trigger, name } = definition;
    if (trigger.kind === 'http') {
      httpFunctions.push({ functionName: name, triggerBindingName: trigger.bindingName, route: trigger.route, methods: trigger.methods, run: (req, data) => run(name, req, data) });
    } else if (trigger.kind === 'queue') {
      const service = connections.queueService(trigger.connection);
      const queueName = trigger.queueName.toLowerCase();
      const poison = poisonQueueName(queueName);
      listeners.push({
        connection: trigger.connection,
        listener: new QueueListener({
          functionName: name,
          triggerBindingName: trigger.bindingName,
          queue: service.getQueueClient(queueName),
          poisonQueue: poison === undefined ? undefined : service.getQueueClient(poison),
          settings: settings.queues,
          leaseMs: options.messageLeaseMs ?? DEFAULT_MESSAGE_LEASE_MS,
          run: async (req, data) => { await run(name, req, data); },
          onPoisonWrite: (poisonName) => wakeListeners(trigger.connection, poisonName),
          logger,
        }),
      });
    } else {
      timers.set(name, new TimerTrigger({
        functionName: name, triggerBindingName: trigger.bindingName, schedule: trigger.schedule, runOnStartup: trigger.runOnStartup,
        run: async (req) => { await run(name, req, {}); }, logger,
        lock: timerLock(name),
      }));
    }
  }

  for (const hook of hooks('appStart')) await hook({ hookData: {}, appHookData, functionAppDirectory: app.root });

  const http: RunningHttpServer = await startHttpServer({
    functions: httpFunctions, routePrefix: settings.routePrefix, port: options.port ?? 0, logger,
    ...(options.allowedSourceAddresses ? { allowedSourceAddresses: options.allowedSourceAddresses } : {}),
  });
  const url = http.url;
  for (const { listener } of listeners) listener.start();
  for (const timer of timers.values()) timer.start();
  for (const { definition } of byName.values()) {
    const t = definition.trigger;
    const where = t.kind === 'http' ? `${t.methods.join(',')} ${url}/${[settings.routePrefix, t.route].filter(Boolean).join('/')}`
      : t.kind === 'queue' ? `queue ${t.queueName}` : `timer ${t.schedule}`;
    logger.info('function loaded', { function: definition.name, trigger: where });
  }

  let closing: Promise<void> | undefined;
  return {
    url,
    functions: [...byName.values()].map((e) => e.definition),
    fireTimer(name) {
      const timer = timers.get(name);
      if (!timer) return Promise.reject(new Error(`No timer function named "${name}".`));
      return timer.fire();
    },
    async idle({ timeoutMs = 30_000 } = {}) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const before = activity;
        for (const { listener } of listeners) listener.notify();
        const drained = running === 0 && (await Promise.all(listeners.map((l) => l.listener.isDrained()))).every(Boolean);
        if (drained && running === 0 && activity === before) return;
        if (Date.now() > deadline) throw new Error(`The host did not become idle within ${timeoutMs} ms.`);
        await new Promise((resolve) => setTimeout(resolve, IDLE_CHECK_MS));
      }
    },
    close() {
      return (closing ??= (async () => {
        for (const timer of timers.values()) timer.stop();
        await http.close();
        await Promise.all(listeners.map((l) => l.listener.stop()));
        for (const hook of hooks('appTerminate')) await hook({ hookData: {}, appHookData });
        restoreEnv();
      })());
    },
  };
}

/** Sets app settings on process.env (the app reads them there in Azure) and returns how to undo it. */
function applyEnv(env: Record<string, string>): () => void {
  const previous = new Map(Object.keys(env).map((k) => [k, process.env[k]]));
  Object.assign(process.env, env);
  return () => {
    for (const [k, v] of previous) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  };
}
