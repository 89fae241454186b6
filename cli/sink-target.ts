// --sink NAME: deliver to a sink configured in O365_SINKS instead of printing, so an admin can test a SIEM
// connection with a fixture file before going live. Rejected batches are reported, not dead-lettered.
import { randomBytes } from 'node:crypto';
import { loadSettings, settingValue } from '../shared/config';
import { createLogger } from '../shared/log';
import type { DecodedRecord } from '../shared/records/decode';
import { redactDetections } from '../shared/records/redact-detections';
import { createSinks } from '../shared/sinks/create-sinks';
import { secretSettingNames } from '../shared/sinks/sink-secrets';
import { createStorageAccount } from '../shared/state/storage-account';
import type { ContentRef, Sink, SinkWriter } from '../shared/sinks/sink';
import { UsageError } from './usage-error';

export interface SinkTarget {
  sink: Sink;
  /** The first configured tenant: the tenant a file's records are delivered for. */
  tenantId: string;
  rejected: number;
  open(content: ContentRef): Promise<SinkWriter>;
}

export function sinkTarget(name: string): SinkTarget {
  const settings = loadSettings();
  const secrets = secretSettingNames(settings.relay.sinks).map((n) => settingValue(n));
  const logger = createLogger({ level: 'warn', secrets });
  const storage = settings.relay.storage && createStorageAccount(settings.relay.storage);
  const sink = createSinks(settings.relay.sinks, { storage, secret: (n) => settingValue(n), logger }).find((s) => s.name === name);
  if (!sink) throw new UsageError(`--sink ${name}: no sink of that name in O365_SINKS (configured: ${settings.relay.sinks.map((s) => s.name).join(', ')})`);
  const target: SinkTarget = {
    sink,
    tenantId: settings.api.tenantIds[0] ?? '',
    rejected: 0,
    open: async (content) => {
      const writer = await sink.open(content, {
        resumeAfter: 0,
        rejected: async (records: readonly DecodedRecord[], reason: string) => {
          target.rejected += records.length;
          process.stderr.write(`${name} rejected ${records.length} record(s): ${reason}\n`);
        },
      });
      if (!settings.relay.redactDlpDetections) return writer;
      return {
        write: (records) => writer.write(records.map(redactDetections)),
        close: () => writer.close(),
        abort: () => writer.abort(),
        get accepted() {
          return writer.accepted;
        },
      };
    },
  };
  return target;
}

/** A content reference for records that did not come from the API (a file given to decode). */
export function fileContentRef(tenantId: string, contentType: ContentRef['contentType']): ContentRef {
  return { tenantId, contentType, contentId: `cli$${Date.now()}$${randomBytes(4).toString('hex')}`, contentCreated: new Date().toISOString() };
}
