// The blob sink: one block blob per content blob, written once. Records are formatted as they arrive and staged
// in blocks of a few MB (write() waits for the staging: bounded memory, back-pressure); close() commits the block
// list only if the blob does not exist yet (If-None-Match: *), so a second delivery never overwrites the first
// and a lost race is success. All or nothing: `accepted` is 0 until the commit, then the record count, and
// `resumeAfter` is ignored (a retry rewrites the whole blob).
//
// Decisions: a blob that already exists at open() is not written again (the writer counts and drops what it is
// given, and close() resolves: it was delivered); block ids carry a per-writer tag, so two writers racing on the
// same blob never mix blocks; the container is created at the first open() (or by ensure()).
import { randomBytes } from 'node:crypto';
import { BlobServiceClient, type ContainerClient } from '@azure/storage-blob';
import type { DecodedRecord } from '../records/decode';
import { parseApiTime } from '../api-time';
import { toAuditEvent } from '../records/event-json';
import { formatLine, type LineOptions } from '../records/line';
import { contentBlobName, type BlobFormat } from './blob-path';
import { SinkError, type ContentRef, type Sink, type SinkWriter } from './sink';

export type BlobSinkOptions = (
  | { containerClient: ContainerClient }
  | { connectionString: string; container: string }
) & {
  format: BlobFormat;
  /** Default 'blob'. */
  name?: string;
  /** Bytes per staged block. Default 4 MiB (50,000 blocks per blob: 195 GiB, far above any content blob). */
  blockBytes?: number;
  line?: LineOptions;
};

export interface BlobSinkWriter extends SinkWriter {
  /** The blob name inside the container. */
  readonly blobName: string;
  /** True once the writer found the blob already delivered (at open, or when its commit lost the race). */
  readonly alreadyDelivered: boolean;
}

export interface BlobSink extends Sink {
  /** Creates the container if missing (open() does it on first use). */
  ensure(): Promise<void>;
  open(content: ContentRef, options: { resumeAfter: number; signal?: AbortSignal }): Promise<BlobSinkWriter>;
}

export const defaultBlockBytes = 4 * 1024 * 1024;

const contentTypes: Record<BlobFormat, string> = { line: 'text/plain; charset=utf-8', json: 'application/x-ndjson' };

type Formatter = (record: DecodedRecord, line: LineOptions) => string;
const formatters: Record<BlobFormat, Formatter> = {
  line: (record, options) => formatLine(record, options),
  json: (record, options) => JSON.stringify(toAuditEvent(record, formatLine(record, options))),
};

export function createBlobSink(options: BlobSinkOptions): BlobSink {
  const name = options.name ?? 'blob';
  const container = 'containerClient' in options ? options.containerClient : containerFrom(name, options.connectionString, options.container);
  const blockBytes = options.blockBytes ?? defaultBlockBytes;
  const format = formatters[options.format];
  const lineOptions = options.line ?? {};

  let ready: Promise<void> | undefined;
  function ensure(): Promise<void> {
    ready ??= container.createIfNotExists().then(
      () => undefined,
      (err: unknown) => {
        ready = undefined;
        throw toSinkError(name, 'create container', err);
      },
    );
    return ready;
  }

  async function open(content: ContentRef, { signal }: { resumeAfter: number; signal?: AbortSignal }): Promise<BlobSinkWriter> {
    const blobName = contentBlobName(content, options.format);
    if (!blobName.ok) throw new SinkError(name, `blob sink ${name}: ${blobName.reason}`, false);
    await ensure();
    const blob = container.getBlockBlobClient(blobName.name);
    const failed = (operation: string, err: unknown): SinkError => {
      // The container vanished since ensure(): create it again on the next attempt.
      if (statusOf(err).code === 'ContainerNotFound') ready = undefined;
      return toSinkError(name, operation, err);
    };
    const guard = async <T>(operation: string, run: () => Promise<T>): Promise<T> => {
      try {
        return await run();
      } catch (err) {
        throw failed(operation, err);
      }
    };
    const exists = await guard('check blob', () => blob.exists({ abortSignal: signal }));

    const tag = randomBytes(6).toString('hex');
    const blockIds: string[] = [];
    let pending: string[] = [];
    let pendingBytes = 0;
    let count = 0;
    let accepted = 0;
    // Earliest and latest CreationTime (records within a content blob are not in time order); a record without an
    // API time still lands, it only does not count here.
    let first: number | null = null;
    let last: number | null = null;
    let delivered = exists;
    let state: 'open' | 'closed' | 'aborted' = 'open';
    let failure: SinkError | undefined;
    // Calls run one after another even if a caller does not await (the block order is the record order).
    let queue: Promise<void> = Promise.resolve();

    const stage = async () => {
      if (pending.length === 0) return;
      const body = Buffer.from(pending.join(''), 'utf8');
      pending = [];
      pendingBytes = 0;
      const id = Buffer.from(`${tag}-${String(blockIds.length).padStart(6, '0')}`).toString('base64');
      await guard('stage block', () => blob.stageBlock(id, body, body.length, { abortSignal: signal }));
      blockIds.push(id);
    };

    const serial = (step: () => Promise<void>): Promise<void> => {
      const run = queue.then(async () => {
        if (failure) throw failure;
        if (state !== 'open') throw new Error(`blob sink ${name}: the writer is ${state}`);
        if (signal?.aborted) throw new SinkError(name, `blob sink ${name}: aborted`, true, 'SINK_ABORTED');
        try {
          await step();
        } catch (err) {
          if (err instanceof SinkError) failure = err;
          throw err;
        }
      });
      queue = run.catch(() => undefined);
      return run;
    };

    return {
      blobName: blobName.name,
      get alreadyDelivered() {
        return delivered;
      },
      get accepted() {
        return accepted;
      },
      write: (records) =>
        serial(async () => {
          count += records.length;
          if (delivered) return; // written by an earlier delivery: nothing to add
          for (const record of records) {
            const line = format(record, lineOptions) + '\n';
            pending.push(line);
            pendingBytes += Buffer.byteLength(line, 'utf8');
            const at = parseApiTime(record.common.CreationTime);
            if (at !== undefined) {
              if (first === null || at < first) first = at;
              if (last === null || at > last) last = at;
            }
            if (pendingBytes >= blockBytes) await stage();
          }
        }),
      close: () =>
        serial(async () => {
          if (!delivered) {
            await stage();
            const metadata: Record<string, string> = {
              recordcount: String(count),
              tenantid: content.tenantId,
              contenttype: content.contentType,
              contentid: content.contentId,
              format: options.format,
              ...(first === null ? {} : { firstcreationtime: new Date(first).toISOString() }),
              ...(last === null ? {} : { lastcreationtime: new Date(last).toISOString() }),
            };
            try {
              await blob.commitBlockList(blockIds, {
                metadata,
                blobHTTPHeaders: { blobContentType: contentTypes[options.format] },
                conditions: { ifNoneMatch: '*' },
                abortSignal: signal,
              });
            } catch (err) {
              const status = statusOf(err).status;
              // 409 BlobAlreadyExists / 412 ConditionNotMet: another delivery committed first; that is success.
              if (status !== 409 && status !== 412) throw failed('commit block list', err);
              delivered = true;
            }
          }
          accepted = count;
          state = 'closed';
        }),
      abort: async () => {
        // Staged blocks that are never committed are discarded by the service (after a week at most).
        state = 'aborted';
        pending = [];
        pendingBytes = 0;
      },
    };
  }

  return { name, ensure, open };
}

function containerFrom(sink: string, connectionString: string, containerName: string): ContainerClient {
  try {
    return BlobServiceClient.fromConnectionString(connectionString).getContainerClient(containerName);
  } catch {
    // The SDK's message may quote the connection string; ours does not.
    throw new SinkError(sink, `blob sink ${sink}: the storage connection string cannot be parsed`, false);
  }
}

/** The fields of an Azure SDK RestError we read (duck-typed). */
function statusOf(err: unknown): { status?: number; code?: string; name?: string } {
  if (err === null || typeof err !== 'object') return {};
  const e = err as { statusCode?: unknown; code?: unknown; name?: unknown };
  return {
    ...(typeof e.statusCode === 'number' ? { status: e.statusCode } : {}),
    ...(typeof e.code === 'string' ? { code: e.code } : {}),
    ...(typeof e.name === 'string' ? { name: e.name } : {}),
  };
}

/** Waiting helps when there was no answer, a timeout, throttling or a 5xx; other 4xx are permanent. */
const retryableStatus = (status: number | undefined): boolean =>
  status === undefined || status === 408 || status === 429 || status >= 500;

function toSinkError(sink: string, operation: string, err: unknown): SinkError {
  if (err instanceof SinkError) return err;
  const { status, code, name } = statusOf(err);
  if (name === 'AbortError') return new SinkError(sink, `blob sink ${sink}: ${operation} aborted`, true, 'SINK_ABORTED');
  // The service's error code is a short identifier; a network error's text (which may hold a URL) is not repeated.
  const serviceCode = code !== undefined && /^[A-Za-z_]{1,64}$/.test(code) ? ` ${code}` : '';
  const detail = status === undefined ? `no answer${serviceCode}` : `HTTP ${status}${serviceCode}`;
  const retryable = retryableStatus(status) || code === 'ContainerNotFound';
  return new SinkError(sink, `blob sink ${sink}: ${operation} failed (${detail})`, retryable);
}
