// The dead letter in blob storage: one NDJSON blob per rejection, with the reason and the sink as metadata.
import type { ContainerClient } from '@azure/storage-blob';
import type { DeadLetter } from './dead-letter';

export const deadLetterContainerName = 'o365-dead-letter';

/** Blob metadata must be ASCII; reasons are our own text, but keep them safe anyway. */
const metadataValue = (text: string) => text.replace(/[^\x20-\x7e]/g, '?').slice(0, 1024);

export function createBlobDeadLetter(container: ContainerClient, now: () => Date = () => new Date()): DeadLetter & { ensure(): Promise<void> } {
  return {
    async ensure() {
      await container.createIfNotExists();
    },
    async put(content, reason, records, sink) {
      const stamp = now().toISOString().replace(/[:.]/g, '-');
      const name = `${content.tenantId}/${content.contentType}/${encodeURIComponent(content.contentId)}/${stamp}-${sink ?? 'relay'}.ndjson`;
      const text = records.map((r) => JSON.stringify(r)).join('\n') + '\n';
      await container.getBlockBlobClient(name).upload(text, Buffer.byteLength(text), {
        metadata: { reason: metadataValue(reason), sink: metadataValue(sink ?? 'relay'), recordcount: String(records.length) },
        blobHTTPHeaders: { blobContentType: 'application/x-ndjson' },
      });
    },
  };
}
