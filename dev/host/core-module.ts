// The `@azure/functions-core` built-in module, provided the way the Azure Node worker does (setupCoreModule.ts):
// `Module.prototype.require` answers that one name with our object, so `app.http(...)` & co. in the real
// @azure/functions library (or in an esbuild bundle of it) register here instead of falling into "test mode".
// One per process: @azure/functions caches the module object it first gets, so the state below is process-wide.
import Module = require('node:module');
import type { FunctionCallback, FunctionMetadata, HookCallback, HookName, ProgrammingModel, RpcLogCategory, RpcLogLevel } from './core-contract';

export const CORE_MODULE_NAME = '@azure/functions-core';
/** Reported to the library; it only checks that these exist. */
const WORKER_VERSION = '3.10.1';
const HOST_VERSION = '4.1036.0';

export interface Registration {
  metadata: FunctionMetadata;
  callback: FunctionCallback;
}

export class Disposable {
  static from(...likes: { dispose: () => unknown }[]): Disposable {
    return new Disposable(() => { for (const like of likes) like.dispose(); });
  }
  #callOnDispose: (() => unknown) | undefined;
  constructor(callOnDispose: () => unknown) {
    this.#callOnDispose = callOnDispose;
  }
  dispose(): void {
    this.#callOnDispose?.();
    this.#callOnDispose = undefined;
  }
}

type SystemLog = (level: RpcLogLevel, category: RpcLogCategory, message: string) => void;

const state = {
  registrations: new Map<string, Registration>(),
  programmingModel: undefined as ProgrammingModel | undefined,
  hooks: new Map<HookName, HookCallback[]>(),
  systemLog: (() => {}) as SystemLog,
  installed: false,
};

const coreApi = {
  version: WORKER_VERSION,
  hostVersion: HOST_VERSION,
  registerFunction(metadata: FunctionMetadata, callback: FunctionCallback): Disposable {
    if (state.registrations.has(metadata.name)) {
      throw new Error(`A function named "${metadata.name}" is already registered.`);
    }
    state.registrations.set(metadata.name, { metadata, callback });
    return new Disposable(() => state.registrations.delete(metadata.name));
  },
  registerHook(hookName: HookName, callback: HookCallback): Disposable {
    const list = state.hooks.get(hookName) ?? [];
    list.push(callback);
    state.hooks.set(hookName, list);
    return new Disposable(() => {
      const index = list.indexOf(callback);
      if (index >= 0) list.splice(index, 1);
    });
  },
  setProgrammingModel(model: ProgrammingModel): void {
    state.programmingModel = model;
  },
  getProgrammingModel(): ProgrammingModel | undefined {
    return state.programmingModel;
  },
  /** Newer workers also expose `log` (system logs from the library, e.g. warnings). */
  log(level: RpcLogLevel, category: RpcLogCategory, message: string): void {
    state.systemLog(level, category, message);
  },
  Disposable,
};

/** Idempotent: wraps `require` once per process. */
export function installCoreModule(): void {
  if (state.installed) return;
  state.installed = true;
  Module.prototype.require = new Proxy(Module.prototype.require, {
    apply(target, thisArg, args: unknown[]) {
      return args[0] === CORE_MODULE_NAME ? coreApi : Reflect.apply(target, thisArg, args);
    },
  });
}

export function registrations(): Registration[] {
  return [...state.registrations.values()];
}

export function programmingModel(): ProgrammingModel | undefined {
  return state.programmingModel;
}

export function hooks(name: HookName): readonly HookCallback[] {
  return [...(state.hooks.get(name) ?? [])];
}

export function setSystemLog(log: SystemLog): void {
  state.systemLog = log;
}
