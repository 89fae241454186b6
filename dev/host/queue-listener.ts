// A queue trigger's listener, with the storage extension's semantics (QueueListener.cs, QueueProcessor.cs):
// - receive up to `batchSize` messages, invisible for a lease that is renewed at half-life while a message runs,
//   and fetch again once no more than `newBatchThreshold` are still in flight;
// - empty polls back off from 100 ms to `maxPollingInterval`; a write to the queue by this host wakes it;
// - success deletes; failure makes the message visible again after `visibilityTimeout`, or moves its raw text to
//   `<queue>-poison` once `dequeueCount` reaches `maxDequeueCount` (already over it: poisoned without running);
// - text that is not valid base64 under `messageEncoding: base64` is poisoned at once.
import { randomUUID } from 'node:crypto';
import type { QueueClient } from '@azure/storage-queue';
import type { DequeuedMessageItem } from '@azure/storage-queue';
import type { Logger } from '../../shared/log';
import { errorFields } from '../../shared/log';
import type { RpcTypedData } from './core-contract';
import type { QueueSettings } from './host-config';
import { MIN_POLLING_INTERVAL_MS } from './host-config';
import type { InvocationRequest } from './invocation';
import { nextPollingDelay } from './polling-delay';
import { decodeMessage } from './typed-data';

/** Extension's lease while a message runs (10 min), renewed at half-life. */
export const DEFAULT_MESSAGE_LEASE_MS = 10 * 60_000;
const POISON_SUFFIX = '-poison';
const MAX_QUEUE_NAME = 63;

export interface QueueListenerOptions {
  functionName: string;
  triggerBindingName: string;
  queue: QueueClient;
  /** undefined when the queue gets none (its name ends in -poison or is too long for the suffix). */
  poisonQueue: QueueClient | undefined;
  settings: QueueSettings;
  leaseMs: number;
  /** Runs the function and writes its outputs; throws when the invocation failed. */
  run(request: InvocationRequest, bindingData: Record<string, unknown>): Promise<void>;
  onPoisonWrite(queueName: string): void;
  logger: Logger;
}

export function poisonQueueName(queueName: string): string | undefined {
  const name = `${queueName}${POISON_SUFFIX}`;
  return queueName.endsWith(POISON_SUFFIX) || name.length > MAX_QUEUE_NAME ? undefined : name;
}

const json = (value: unknown): RpcTypedData => ({ json: JSON.stringify(value) });

/** The invocation the host would send: message text as string data, queue metadata as the host types it. */
export function queueInvocation(triggerBindingName: string, message: DequeuedMessageItem, text: string, now: Date): { request: InvocationRequest; bindingData: Record<string, unknown> } {
  const metadata = {
    id: message.messageId,
    dequeueCount: message.dequeueCount,
    insertionTime: message.insertedOn.toISOString(),
    expirationTime: message.expiresOn.toISOString(),
    nextVisibleTime: message.nextVisibleOn.toISOString(),
    popReceipt: message.popReceipt,
    queueTrigger: text,
  };
  const triggerMetadata: Record<string, RpcTypedData> = {
    Id: { string: metadata.id },
    DequeueCount: json(metadata.dequeueCount),
    InsertionTime: json(metadata.insertionTime),
    ExpirationTime: json(metadata.expirationTime),
    NextVisibleTime: json(metadata.nextVisibleTime),
    PopReceipt: { string: metadata.popReceipt },
    QueueTrigger: { string: text },
    sys: json({ MethodName: triggerBindingName, UtcNow: now.toISOString(), RandGuid: randomUUID() }),
  };
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  // As in the extension, properties of a JSON message override the built-in names (`{id}` is the message's own id).
  const bindingData = { ...metadata, ...(body !== null && typeof body === 'object' && !Array.isArray(body) ? body : {}) };
  return { request: { inputData: [{ name: triggerBindingName, data: { string: text } }], triggerMetadata }, bindingData };
}

function statusOf(err: unknown): number | undefined {
  const status = (err as { statusCode?: unknown } | null)?.statusCode;
  return typeof status === 'number' ? status : undefined;
}

export class QueueListener {
  readonly #o: QueueListenerOptions;
  readonly #inFlight = new Set<Promise<void>>();
  #stopped = false;
  #wake: (() => void) | undefined;
  #loop: Promise<void> | undefined;

  constructor(options: QueueListenerOptions) {
    this.#o = options;
  }

  get queueName(): string {
    return this.#o.queue.name;
  }

  start(): void {
    this.#loop ??= this.#poll().catch((err: unknown) => this.#o.logger.error('queue listener stopped on an error', { queue: this.queueName, ...errorFields(err) }));
  }

  /** Poll now instead of waiting out the back-off. */
  notify(): void {
    this.#wake?.();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.notify();
    await this.#loop;
    await Promise.allSettled([...this.#inFlight]);
  }

  /** Nothing running and nothing left in the queue, visible or not. */
  async isDrained(): Promise<boolean> {
    if (this.#inFlight.size > 0) return false;
    try {
      return (await this.#o.queue.getProperties()).approximateMessagesCount === 0;
    } catch (err) {
      if (statusOf(err) === 404) return true;
      throw err;
    }
  }

  async #poll(): Promise<void> {
    const { queue, settings, logger } = this.#o;
    let delay = MIN_POLLING_INTERVAL_MS;
    let foundSinceLastDelay = false;
    while (!this.#stopped) {
      if (this.#inFlight.size > settings.newBatchThreshold) {
        await Promise.race(this.#inFlight);
        continue;
      }
      let batch: DequeuedMessageItem[] = [];
      try {
        const response = await queue.receiveMessages({ numberOfMessages: settings.batchSize, visibilityTimeout: Math.ceil(this.#o.leaseMs / 1000) });
        batch = response.receivedMessageItems;
      } catch (err) {
        if (statusOf(err) !== 404) logger.warn('queue poll failed', { queue: queue.name, ...errorFields(err) });
      }
      if (this.#stopped) {
        await Promise.all(batch.map((m) => this.#release(m.messageId, m.popReceipt, 0)));
        return;
      }
      if (batch.length === 0) {
        delay = nextPollingDelay(delay, foundSinceLastDelay, MIN_POLLING_INTERVAL_MS, settings.maxPollingIntervalMs, Math.random);
        foundSinceLastDelay = false;
        await this.#sleep(delay);
        continue;
      }
      foundSinceLastDelay = true;
      for (const message of batch) {
        const task = this.#process(message).catch((err: unknown) => logger.error('queue message handling failed', { queue: queue.name, ...errorFields(err) }));
        this.#inFlight.add(task);
        void task.finally(() => this.#inFlight.delete(task));
      }
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.#wake = done;
    });
  }

  async #process(message: DequeuedMessageItem): Promise<void> {
    const { settings, logger, functionName } = this.#o;
    if (message.dequeueCount > settings.maxDequeueCount) {
      await this.#poison(message, message.popReceipt);
      return;
    }
    const text = decodeMessage(message.messageText, settings.messageEncoding);
    if (text === undefined) {
      logger.warn('queue message is not valid base64 (host.json messageEncoding); moving it to the poison queue', { function: functionName, queue: this.queueName, messageId: message.messageId });
      await this.#poison(message, message.popReceipt);
      return;
    }
    const lease = this.#renewLease(message);
    let succeeded = true;
    try {
      const { request, bindingData } = queueInvocation(this.#o.triggerBindingName, message, text, new Date());
      await this.#o.run(request, bindingData);
    } catch {
      succeeded = false; // already logged by the invocation
    }
    const popReceipt = await lease.stop();
    if (succeeded) {
      await this.#delete(message.messageId, popReceipt);
    } else if (this.#o.poisonQueue) {
      if (message.dequeueCount >= settings.maxDequeueCount) await this.#poison(message, popReceipt);
      else await this.#release(message.messageId, popReceipt, settings.visibilityTimeoutMs);
    }
    // Without a poison queue a failed message stays invisible until its lease ends (no fast retry loop).
  }

  /** Keeps the message invisible while it runs; `stop()` waits for a renewal in flight and gives the latest pop receipt. */
  #renewLease(message: DequeuedMessageItem): { stop(): Promise<string> } {
    const { queue, leaseMs, logger } = this.#o;
    let popReceipt = message.popReceipt;
    let pending: Promise<void> = Promise.resolve();
    const timer = setInterval(() => {
      pending = pending.then(async () => {
        try {
          popReceipt = (await queue.updateMessage(message.messageId, popReceipt, undefined, Math.ceil(leaseMs / 1000))).popReceipt ?? popReceipt;
        } catch (err) {
          logger.warn('queue message lease renewal failed', { queue: queue.name, messageId: message.messageId, ...errorFields(err) });
        }
      });
    }, leaseMs / 2);
    return {
      async stop() {
        clearInterval(timer);
        await pending;
        return popReceipt;
      },
    };
  }

  async #poison(message: DequeuedMessageItem, popReceipt: string): Promise<void> {
    const poison = this.#o.poisonQueue;
    if (!poison) return;
    this.#o.logger.warn(`Message has reached MaxDequeueCount of ${this.#o.settings.maxDequeueCount}. Moving message to queue '${poison.name}'.`, { function: this.#o.functionName, messageId: message.messageId });
    await poison.createIfNotExists();
    await poison.sendMessage(message.messageText);
    this.#o.onPoisonWrite(poison.name);
    await this.#delete(message.messageId, popReceipt);
  }

  async #delete(messageId: string, popReceipt: string): Promise<void> {
    await this.#tolerateGone(() => this.#o.queue.deleteMessage(messageId, popReceipt), messageId);
  }

  async #release(messageId: string, popReceipt: string, visibilityMs: number): Promise<void> {
    await this.#tolerateGone(() => this.#o.queue.updateMessage(messageId, popReceipt, undefined, Math.round(visibilityMs / 1000)), messageId);
  }

  // Someone else took the message over (pop receipt mismatch) or it is gone: nothing left to do, as in QueueProcessor.
  async #tolerateGone(operation: () => Promise<unknown>, messageId: string): Promise<void> {
    try {
      await operation();
    } catch (err) {
      const status = statusOf(err);
      if (status !== 400 && status !== 404) throw err;
      this.#o.logger.debug('queue message already gone', { queue: this.queueName, messageId, status });
    }
  }
}
