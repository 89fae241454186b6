// What `npm start` says about loss as it happens: every dead letter, every ledger entry that ended other than
// delivered (refused, expired, delivered with problems, dead-lettered) and every poison message, one line each
// with its reason. It reads storage itself, so it sees what the app did whatever the app logged.
import { TableClient } from '@azure/data-tables';
import { BlobServiceClient } from '@azure/storage-blob';
import { QueueServiceClient } from '@azure/storage-queue';
import { deadLetterContainerName } from '../shared/sinks/blob-dead-letter';
import { contentQueueName } from '../shared/state/content-queue';
import { keepQueueName, reconcileQueueName } from '../shared/state/plan-queues';
import { defaultLedgerTable } from '../shared/state/table-ledger';

/** Ledger states that mean some or all of a blob did not reach its sinks. */
const lossStates = new Set(['refused', 'expired', 'delivered-with-problems', 'dead-lettered']);

export interface LossWatch {
  /** Looks once; prints what is new since the last look. */
  poll(): Promise<void>;
}

export function watchLoss(connectionString: string, print: (line: string) => void): LossWatch {
  const options = { allowInsecureConnection: true };
  const deadLetters = BlobServiceClient.fromConnectionString(connectionString).getContainerClient(deadLetterContainerName);
  const queues = QueueServiceClient.fromConnectionString(connectionString);
  const poisonQueues = [contentQueueName, reconcileQueueName, keepQueueName].map((name) => queues.getQueueClient(`${name}-poison`));
  const ledger = TableClient.fromConnectionString(connectionString, defaultLedgerTable, options);
  const seen = new Set<string>();
  const once = (key: string, line: () => string) => {
    if (seen.has(key)) return;
    seen.add(key);
    print(line());
  };

  async function pollDeadLetters(): Promise<void> {
    if (!(await deadLetters.exists())) return;
    for await (const blob of deadLetters.listBlobsFlat({ includeMetadata: true })) {
      const m = blob.metadata ?? {};
      once(`dead-letter|${blob.name}`, () =>
        `[dead letter] ${m.recordcount ?? '?'} record(s) of ${m.contenttype ?? '?'} ${decodeURIComponent(m.contentid ?? '?')} (sink ${m.sink ?? '?'}): ${m.reason ?? 'no reason given'}`,
      );
    }
  }

  async function pollLedger(): Promise<void> {
    const rows = ledger.listEntities<Record<string, unknown>>({ queryOptions: { filter: "PartitionKey ge 'content:' and PartitionKey lt 'content;'" } });
    for await (const row of rows) {
      const state = String(row.state ?? '');
      if (!lossStates.has(state)) continue;
      once(`ledger|${row.partitionKey}|${row.rowKey}|${state}`, () =>
        `[${state}] ${String(row.contentType ?? '?')} ${String(row.contentId ?? row.rowKey)}: ${String(row.detail ?? 'no detail')}`,
      );
    }
  }

  async function pollPoison(): Promise<void> {
    for (const poison of poisonQueues) {
      if (!(await poison.exists())) continue;
      const { peekedMessageItems } = await poison.peekMessages({ numberOfMessages: 32 });
      for (const message of peekedMessageItems) {
        once(`${poison.name}|${message.messageId}`, () => `[poisoned] ${describeMessage(message.messageText)} in ${poison.name}: needs a person; npx o365-relay replay-poison puts content messages back`);
      }
    }
  }

  return {
    async poll() {
      // Tables and containers appear with the app's first write; until then there is nothing to report.
      await Promise.all([pollDeadLetters(), pollLedger().catch(ignoreMissingTable), pollPoison()]);
    },
  };
}

function ignoreMissingTable(err: unknown): void {
  if ((err as { statusCode?: unknown }).statusCode !== 404) throw err;
}

/** A content message names its blob, a plan message its stream; anything else is shown as what it is. */
function describeMessage(text: string): string {
  try {
    const message = JSON.parse(Buffer.from(text, 'base64').toString('utf8')) as { tenantId?: unknown; contentType?: unknown; contentId?: unknown };
    if (message.contentId !== undefined) return `content message ${String(message.contentType)} ${String(message.contentId)}`;
    return `message for ${String(message.tenantId)} ${String(message.contentType ?? '')}`.trimEnd();
  } catch {
    return 'a queue message that is not JSON';
  }
}
