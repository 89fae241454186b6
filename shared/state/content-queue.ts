// The storage queue between the webhook (and the reconciler) and the content worker. Messages are base64 JSON,
// the Functions queue extension's default encoding, and sent only once the queue service has accepted them.
import { QueueClient } from '@azure/storage-queue';
import type { ContentMessage } from '../pipeline/content-message';

export const contentQueueName = 'o365-content';

export interface ContentQueue {
  /** Resolves once the queue service has accepted every message. */
  enqueue(messages: readonly ContentMessage[]): Promise<void>;
  /** The same blob again after `delayMs` (visibility delay), with its wait counted. */
  requeue(message: ContentMessage, delayMs: number): Promise<void>;
  ensure(): Promise<void>;
}

const encode = (message: ContentMessage) => Buffer.from(JSON.stringify(message), 'utf8').toString('base64');
const sendConcurrency = 16;

export function createContentQueue(connectionString: string, queueName = contentQueueName): ContentQueue {
  const client = new QueueClient(connectionString, queueName);
  const send = (message: ContentMessage, visibilityTimeout?: number) =>
    client.sendMessage(encode(message), { messageTimeToLive: -1, ...(visibilityTimeout === undefined ? {} : { visibilityTimeout }) });
  return {
    async enqueue(messages) {
      for (let i = 0; i < messages.length; i += sendConcurrency) {
        await Promise.all(messages.slice(i, i + sendConcurrency).map((m) => send(m)));
      }
    },
    async requeue(message, delayMs) {
      // The service caps the visibility delay at 7 days, which is also the content's lifetime.
      await send({ ...message, waits: message.waits + 1 }, Math.min(7 * 86_400 - 60, Math.max(1, Math.ceil(delayMs / 1000))));
    },
    async ensure() {
      await client.createIfNotExists();
    },
  };
}
