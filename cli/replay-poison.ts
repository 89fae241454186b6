// o365-relay replay-poison [--max N] [--dry-run]: moves messages from o365-content-poison back to o365-content,
// after the cause of their failures has been fixed. The ledger keeps a replay from delivering anything twice.
import { loadSettings } from '../shared/config';
import { contentQueueName } from '../shared/state/content-queue';
import { createStorageAccount } from '../shared/state/storage-account';
import { parseCommandLine } from './command-line';
import { UsageError } from './usage-error';

export const replayPoisonUsage = `usage: o365-relay replay-poison [--max N] [--dry-run]
  Moves up to N (default all) messages from ${contentQueueName}-poison back to ${contentQueueName}
  (storage: the AzureWebJobsStorage setting).`;

export async function runReplayPoison(argv: string[]): Promise<number> {
  const { values } = parseCommandLine({ args: argv, options: { max: { type: 'string' }, 'dry-run': { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } });
  if (values.help) {
    process.stdout.write(replayPoisonUsage + '\n');
    return 0;
  }
  const max = values.max === undefined ? Infinity : Number(values.max);
  if (!(max > 0)) throw new UsageError('--max must be a positive number');
  const settings = loadSettings().relay.storage;
  if (settings === undefined) throw new UsageError('AzureWebJobsStorage (or AzureWebJobsStorage__accountName) is not set: it names the storage account of the queues');
  const storage = createStorageAccount(settings);
  const poison = storage.queue(`${contentQueueName}-poison`);
  const target = storage.queue(contentQueueName);
  if (!(await poison.exists())) {
    process.stdout.write('no poison queue: nothing to replay\n');
    return 0;
  }
  if (values['dry-run']) {
    // Peek, never receive: a received message would stay hidden from a real replay for its visibility timeout.
    const peeked = await poison.peekMessages({ numberOfMessages: 32 });
    for (const message of peeked.peekedMessageItems) process.stdout.write(`would replay ${message.messageId} (dequeued ${message.dequeueCount} times)\n`);
    const total = (await poison.getProperties()).approximateMessagesCount ?? peeked.peekedMessageItems.length;
    process.stdout.write(`would replay ${Math.min(total, max)} message(s)\n`);
    return 0;
  }
  let moved = 0;
  while (moved < max) {
    const batch = await poison.receiveMessages({ numberOfMessages: Math.min(32, max - moved), visibilityTimeout: 60 });
    if (batch.receivedMessageItems.length === 0) break;
    for (const message of batch.receivedMessageItems) {
      // The poison queue holds the message text as the host read it (base64 JSON): re-send it unchanged.
      await target.sendMessage(message.messageText, { messageTimeToLive: -1 });
      await poison.deleteMessage(message.messageId, message.popReceipt);
      moved++;
    }
  }
  process.stdout.write(`replayed ${moved} message(s)\n`);
  return 0;
}
