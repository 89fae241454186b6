// Writes a successful invocation's queue and blob outputs (extraOutputs, or a `return:` binding), like the
// host flushes its output collectors after the function returns. A write failure fails the invocation.
import { randomUUID } from 'node:crypto';
import type { RpcInvocationResponse, RpcTypedData } from './core-contract';
import { resolveBindingExpressions } from './binding-expressions';
import type { FunctionDefinition, Output } from './function-bindings';
import type { StorageConnections } from './storage-connections';
import { blobContent, encodeMessage, queueMessages, type MessageEncoding } from './typed-data';

export interface OutputTarget {
  connections: StorageConnections;
  messageEncoding: MessageEncoding;
  /** Wakes a queue listener of this host right away (the extension's SharedQueueWatcher does the same). */
  onQueueWrite(connection: string, queueName: string): void;
}

const RETURN_BINDING = '$return';

function outputData(response: RpcInvocationResponse, bindingName: string): RpcTypedData | undefined {
  if (bindingName === RETURN_BINDING) return response.returnValue ?? undefined;
  return response.outputData?.find((b) => b.name === bindingName)?.data ?? undefined;
}

type Writer = (output: Output, data: RpcTypedData, target: OutputTarget, resolve: (template: string) => string) => Promise<void>;

const writers: Partial<Record<Output['kind'], Writer>> = {
  queue: async (output, data, target, resolve) => {
    if (output.kind !== 'queue') return;
    const queueName = resolve(output.queueName).toLowerCase();
    const queue = target.connections.queueService(output.connection).getQueueClient(queueName);
    await queue.createIfNotExists();
    for (const message of queueMessages(data)) await queue.sendMessage(encodeMessage(message, target.messageEncoding));
    target.onQueueWrite(output.connection, queueName);
  },
  blob: async (output, data, target, resolve) => {
    if (output.kind !== 'blob') return;
    const content = blobContent(data);
    if (content === undefined) return;
    const [container = '', ...rest] = resolve(output.path).split('/');
    if (!container || rest.length === 0) throw new Error(`Blob output path "${output.path}" must be "<container>/<blob name>".`);
    const containerClient = target.connections.blobService(output.connection).getContainerClient(container.toLowerCase());
    await containerClient.createIfNotExists();
    const body = typeof content === 'string' ? Buffer.from(content, 'utf8') : content;
    await containerClient.getBlockBlobClient(rest.join('/')).upload(body, body.length);
  },
};

export async function writeOutputs(definition: FunctionDefinition, response: RpcInvocationResponse, bindingData: Record<string, unknown>, target: OutputTarget): Promise<void> {
  const resolve = (template: string) => resolveBindingExpressions(template, { data: bindingData, now: new Date(), newGuid: randomUUID });
  for (const output of definition.outputs) {
    const writer = writers[output.kind];
    const data = outputData(response, output.bindingName);
    if (writer && data) await writer(output, data, target, resolve);
  }
}
