// The dead letter in blob storage: one NDJSON blob per hand-off, with the content reference, the reason and the
// sink as metadata, so a re-delivery knows where each record belongs.
import { randomUUID } from 'node:crypto';
import type { ContainerClient } from '@azure/storage-blob';
import { ContentType } from '../api/content-types';
import { relayOwnEntries, type DeadLetterEntry, type DeadLetterStore } from './dead-letter';
import type { ContentRef } from './sink';

export const deadLetterContainerName = 'o365-dead-letter';

/** Blob metadata must be ASCII; reasons are our own text, but keep them safe anyway. */
const metadataValue = (text: string) => text.replace(/[^\x20-\x7e]/g, '?').slice(0, 1024);

/** A span is uploaded in blocks of this size: what the dead letter holds of an oversize element at a time. */
export const spanBlockBytes = 4 * 1024 * 1024;

export function createBlobDeadLetter(container: ContainerClient, now: () => Date = () => new Date()): DeadLetterStore & { ensure(): Promise<void> } {
  const contentMetadata = (content: ContentRef, sink: string) => ({
    sink: metadataValue(sink),
    tenantid: content.tenantId,
    contenttype: content.contentType,
    contentid: encodeURIComponent(content.contentId),
    contentcreated: metadataValue(content.contentCreated),
    attempts: '0',
  });
  return {
    async ensure() {
      await container.createIfNotExists();
    },
    openSpan(content, at) {
      const blob = container.getBlockBlobClient(`${relayOwnEntries}/${content.tenantId}/${content.contentType}/${encodeURIComponent(content.contentId)}/span-at-${at.offset}.txt`);
      const blocks: string[] = [];
      let pending: Buffer[] = [];
      let pendingBytes = 0;
      const stage = async () => {
        const id = Buffer.from(String(blocks.length).padStart(8, '0')).toString('base64');
        await blob.stageBlock(id, Buffer.concat(pending, pendingBytes), pendingBytes);
        blocks.push(id);
        pending = [];
        pendingBytes = 0;
      };
      return {
        async write(bytes) {
          pending.push(Buffer.from(bytes)); // copied: the scanner's pieces are views of a chunk it will not keep
          pendingBytes += bytes.byteLength;
          if (pendingBytes >= spanBlockBytes) await stage();
        },
        async close(reason, size) {
          const options = {
            metadata: { ...contentMetadata(content, relayOwnEntries), reason: metadataValue(`at byte ${at.offset} (line ${at.line}): ${reason}`), recordcount: '1', offset: String(at.offset), line: String(at.line), size: String(size) },
            blobHTTPHeaders: { blobContentType: 'text/plain; charset=utf-8' },
          };
          if (blocks.length === 0) {
            const text = Buffer.concat(pending, pendingBytes);
            await blob.upload(text, text.length, options);
          } else {
            if (pendingBytes > 0) await stage();
            await blob.commitBlockList(blocks, options);
          }
          pending = [];
        },
        async abort() {
          // Staged blocks that are never committed are discarded by the service.
          pending = [];
        },
      };
    },
    async put(content, reason, records, sink = relayOwnEntries) {
      const stamp = now().toISOString().replace(/[:.]/g, '-');
      // Unique per hand-off: two within one millisecond (one rejected event after another) must not overwrite.
      const name = `${sink}/${content.tenantId}/${content.contentType}/${encodeURIComponent(content.contentId)}/${stamp}-${randomUUID().slice(0, 8)}-${records.length}.ndjson`;
      const text = records.map((r) => JSON.stringify(r)).join('\n') + '\n';
      await container.getBlockBlobClient(name).upload(text, Buffer.byteLength(text), {
        metadata: { ...contentMetadata(content, sink), reason: metadataValue(reason), recordcount: String(records.length) },
        blobHTTPHeaders: { blobContentType: 'application/x-ndjson' },
      });
    },
    async *list(options = {}) {
      for await (const blob of container.listBlobsFlat({ includeMetadata: true, ...(options.sink ? { prefix: `${options.sink}/` } : {}) })) {
        const m = blob.metadata ?? {};
        const contentType = ContentType.safeParse(m.contenttype);
        if (!m.sink || !m.tenantid || !m.contentid || !contentType.success) continue; // not one of ours
        const storedAt = blob.properties.createdOn ?? blob.properties.lastModified;
        if (options.since && storedAt < options.since) continue;
        const entry: DeadLetterEntry = {
          id: blob.name,
          sink: m.sink,
          reason: m.reason ?? '',
          content: { tenantId: m.tenantid, contentType: contentType.data, contentId: decodeURIComponent(m.contentid), contentCreated: m.contentcreated ?? '' },
          recordCount: Number(m.recordcount ?? 0),
          storedAt,
          attempts: Number(m.attempts ?? 0),
        };
        yield entry;
      }
    },
    async read(entry) {
      const text = (await container.getBlockBlobClient(entry.id).downloadToBuffer()).toString('utf8');
      return text.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as unknown);
    },
    async remove(entry) {
      await container.getBlockBlobClient(entry.id).deleteIfExists();
    },
    async noteAttempt(entry, error) {
      const blob = container.getBlockBlobClient(entry.id);
      const properties = await blob.getProperties();
      await blob.setMetadata({ ...properties.metadata, attempts: String(entry.attempts + 1), lasterror: metadataValue(error) });
    },
  };
}
