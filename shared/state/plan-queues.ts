// The fan-out queues the timers plan onto: one message per tenant to reconcile its streams (o365-reconcile) and one
// per tenant whose subscriptions to check (o365-keep). Base64 JSON like the content queue (host.json messageEncoding).
import type { QueueClient } from '@azure/storage-queue';
import { mapLimited } from '../map-limited';
import type { KeepMessage, ReconcileMessage } from '../pipeline/reconcile-plan';

export const reconcileQueueName = 'o365-reconcile';
export const keepQueueName = 'o365-keep';

export interface MessageQueue<T> {
  /** Resolves once the queue service has accepted every message. */
  enqueue(messages: readonly T[]): Promise<void>;
  ensure(): Promise<void>;
}

/** Sends in flight at once per queue: a timer planning 1,000 tenants must not open 1,000 requests at once. */
const maxSendsInFlight = 32;

export function createMessageQueue<T>(queue: (name: string) => QueueClient, queueName: string): MessageQueue<T> {
  const client = queue(queueName);
  return {
    async enqueue(messages) {
      await mapLimited(messages, maxSendsInFlight, (message) =>
        client.sendMessage(Buffer.from(JSON.stringify(message), 'utf8').toString('base64'), { messageTimeToLive: -1 }));
    },
    async ensure() {
      await client.createIfNotExists();
    },
  };
}

export const createReconcileQueue = (queue: (name: string) => QueueClient): MessageQueue<ReconcileMessage> => createMessageQueue(queue, reconcileQueueName);
export const createKeepQueue = (queue: (name: string) => QueueClient): MessageQueue<KeepMessage> => createMessageQueue(queue, keepQueueName);
