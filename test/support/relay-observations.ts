// What the end-to-end and chaos tests look at from outside the relay: the blob sink's records, the simulator's
// journal (content fetches, notifications sent) and storage queues. Read-only helpers; one shared assertion.
import assert from 'node:assert/strict';
import type { ContainerClient } from '@azure/storage-blob';
import { QueueClient } from '@azure/storage-queue';
import { z } from 'zod';
import type { JournalEntry, Simulator } from '../../dev/simulator';
import { contentTypes } from '../../shared/api/content-types';

/** One NDJSON line of the blob sink in `json` format (only what the tests read). */
const SinkEvent = z.looseObject({ id: z.string().nullable(), tenantId: z.string().nullable() });

/** Record ids in one sink blob (`json` format), in order; undefined when the blob does not exist. */
export async function sinkRecordIds(container: ContainerClient, blobName: string): Promise<string[] | undefined> {
  const blob = container.getBlockBlobClient(blobName);
  if (!(await blob.exists())) return undefined;
  const text = (await blob.downloadToBuffer()).toString('utf8');
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => SinkEvent.parse(JSON.parse(line)).id ?? '(no id)');
}

export async function blobNames(container: ContainerClient, prefix?: string): Promise<string[]> {
  if (!(await container.exists())) return [];
  const names: string[] = [];
  for await (const blob of container.listBlobsFlat(prefix === undefined ? {} : { prefix })) names.push(blob.name);
  return names.sort();
}

const auditPath = (contentId: string) => `/activity/feed/audit/${contentId}`;

/** The simulator's answers to content downloads of one blob (any tenant in the URL). */
export function contentFetches(journal: readonly JournalEntry[], contentId: string): JournalEntry[] {
  return journal.filter((e) => e.direction === 'in' && e.method === 'GET' && decodeURIComponent(e.path).endsWith(auditPath(contentId)));
}

const NotificationBatch = z.array(z.looseObject({ contentId: z.string() }));

/** contentIds the simulator POSTed to a webhook (every attempt, duplicates included). */
export function notifiedContentIds(journal: readonly JournalEntry[]): string[] {
  return journal.flatMap((e) => {
    if (e.direction !== 'out') return [];
    const batch = NotificationBatch.safeParse(e.body);
    return batch.success ? batch.data.map((n) => n.contentId) : [];
  });
}

/** Messages visible in a queue (peeked, so they stay), as their text (base64 decoded when it is base64 JSON). */
export async function peekQueue(connectionString: string, queueName: string): Promise<string[]> {
  const queue = new QueueClient(connectionString, queueName);
  if (!(await queue.exists())) return [];
  const { peekedMessageItems } = await queue.peekMessages({ numberOfMessages: 32 });
  return peekedMessageItems.map((m) => {
    const decoded = Buffer.from(m.messageText, 'base64').toString('utf8');
    return decoded.trimStart().startsWith('{') ? decoded : m.messageText;
  });
}

/** Every message in a queue, visible or not (approximate count from the service). */
export async function queueLength(connectionString: string, queueName: string): Promise<number> {
  const queue = new QueueClient(connectionString, queueName);
  if (!(await queue.exists())) return 0;
  return (await queue.getProperties()).approximateMessagesCount ?? 0;
}

/**
 * Where the blob sink must put a content blob, written out here independently of the app's own code:
 * {tenantId}/{contentType}/{yyyy}/{MM}/{dd}/{HH}/{contentId}.ndjson (UTC hour of contentCreated, `json` format).
 */
export function expectedSinkBlobName(tenantId: string, content: { contentType: string; contentId: string; contentCreated: string }): string {
  const created = new Date(content.contentCreated);
  const two = (n: number) => String(n).padStart(2, '0');
  const hour = `${created.getUTCFullYear()}/${two(created.getUTCMonth() + 1)}/${two(created.getUTCDate())}/${two(created.getUTCHours())}`;
  return `${tenantId}/${content.contentType}/${hour}/${content.contentId}.ndjson`;
}

/**
 * What "the keeper subscribed us" looks like from outside: every content type enabled with our webhook, and one
 * validation handshake per content type, each answered 200. Throws an AssertionError naming what differs.
 */
export function assertSubscribedWithHandshakes(simulator: Pick<Simulator, 'subscriptions' | 'journal'>, tenantId: string, webhookUrl: string | undefined): void {
  const subscriptions = simulator.subscriptions(tenantId);
  assert.deepEqual(subscriptions.map((s) => s.contentType).sort(), [...contentTypes].sort());
  for (const s of subscriptions) {
    assert.equal(s.status, 'enabled');
    assert.equal(s.webhook?.address, webhookUrl);
    assert.equal(s.webhook?.status, 'enabled');
  }
  const handshakes = simulator.journal.filter((e) => e.direction === 'out' && e.headers['webhook-validationcode'] !== undefined);
  assert.equal(handshakes.length, contentTypes.length);
  assert.ok(handshakes.every((e) => e.status === 200), JSON.stringify(handshakes.map((e) => e.status)));
}
