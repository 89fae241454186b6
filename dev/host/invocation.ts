// One invocation, run the way the Node worker runs it (InvocationHandler.ts): the app's own programming model
// (set by @azure/functions through `setProgrammingModel`) turns RPC input into the handler's arguments and the
// handler's result back into RPC output, with preInvocation/postInvocation hooks around the call.
// So the app sees a real HttpRequest/InvocationContext and its return value is converted by its own library copy.
import { randomUUID } from 'node:crypto';
import type { Logger, LogLevel } from '../../shared/log';
import { errorFields } from '../../shared/log';
import type { CoreInvocationContext, RpcInvocationResponse, RpcLogLevel, RpcParameterBinding, RpcTypedData } from './core-contract';
import { hooks, programmingModel, type Registration } from './core-module';

export interface InvocationRequest {
  inputData: RpcParameterBinding[];
  triggerMetadata?: Record<string, RpcTypedData>;
}

export interface InvocationOptions {
  logger: Logger;
  /** undefined: no limit. Over time counts as a failure (the handler keeps running: JS cannot be cancelled). */
  timeoutMs: number | undefined;
  appHookData: Record<string, unknown>;
}

export class FunctionTimeoutError extends Error {
  override name = 'FunctionTimeoutError';
}

const logLevels: Record<RpcLogLevel, LogLevel | undefined> = {
  trace: 'debug', debug: 'debug', information: 'info', warning: 'warn', error: 'error', critical: 'error', none: undefined,
};

export async function invoke(registration: Registration, request: InvocationRequest, options: InvocationOptions): Promise<RpcInvocationResponse> {
  const invocationId = randomUUID();
  const functionName = registration.metadata.name;
  const run = runInvocation(invocationId, registration, request, options);
  if (options.timeoutMs === undefined) return run;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      options.logger.error('function timeout exceeded', { function: functionName, invocationId, timeoutMs: options.timeoutMs });
      reject(new FunctionTimeoutError(`Timeout value of ${options.timeoutMs} ms was exceeded by function: ${functionName}`));
    }, options.timeoutMs);
  });
  run.catch(() => {}); // a late failure after the timeout was already reported must not become unhandled
  try {
    return await Promise.race([run, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function runInvocation(invocationId: string, registration: Registration, request: InvocationRequest, options: InvocationOptions): Promise<RpcInvocationResponse> {
  const model = programmingModel();
  if (!model) throw new Error('No programming model was set: did the app load @azure/functions?');
  const functionName = registration.metadata.name;
  const coreCtx: CoreInvocationContext = {
    invocationId,
    request: { invocationId, functionId: functionName, ...request },
    metadata: registration.metadata,
    log(level, category, message) {
      const logLevel = logLevels[level];
      if (logLevel) options.logger[logLevel](message, { function: functionName, invocationId, category });
    },
  };
  const invocationModel = await model.getInvocationModel(coreCtx);
  const { context, inputs: initialInputs } = await invocationModel.getArguments();
  const hookData: Record<string, unknown> = {};
  const common = { hookData, appHookData: options.appHookData, invocationContext: context };

  const pre = { ...common, inputs: initialInputs, functionCallback: registration.callback };
  coreCtx.state = 'preInvocationHooks';
  try {
    for (const hook of hooks('preInvocation')) await hook(pre);
  } finally {
    coreCtx.state = undefined;
  }

  const post: Record<string, unknown> & { result: unknown; error: unknown } = { ...common, inputs: pre.inputs, result: null, error: null };
  coreCtx.state = 'invocation';
  try {
    post.result = await invocationModel.invokeFunction(context, pre.inputs, pre.functionCallback);
  } catch (err) {
    post.error = err;
  } finally {
    coreCtx.state = undefined;
  }

  coreCtx.state = 'postInvocationHooks';
  try {
    for (const hook of hooks('postInvocation')) await hook(post);
  } finally {
    coreCtx.state = undefined;
  }

  if (post.error !== null && post.error !== undefined) {
    options.logger.warn('function failed', { function: functionName, invocationId, ...errorFields(post.error) });
    throw post.error;
  }
  return invocationModel.getResponse(context, post.result);
}
