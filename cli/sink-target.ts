// --sink NAME: deliver to a sink configured in O365_SINKS instead of printing, so an admin can test a SIEM
// connection with a fixture file before going live. What the destination rejects is reported (and makes the
// command exit 3), not dead-lettered.
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
  open(content: ContentRef): Promise<TargetWriter>;
}

/** A delivery to the sink that keeps what the destination refused for good, so the summary can say so. */
export interface TargetWriter extends SinkWriter {
  /** Records the destination rejected for good (they count in `accepted`, as dealt with). */
  readonly rejected: number;
  /** "N delivered, M rejected (reason)". */
  summary(): string;
}

export function sinkTarget(name: string): SinkTarget {
  const settings = loadSettings();
  const secrets = secretSettingNames(settings.relay.sinks).map((n) => settingValue(n));
  const logger = createLogger({ level: 'warn', secrets });
  const storage = settings.relay.storage && createStorageAccount(settings.relay.storage);
  const sink = createSinks(settings.relay.sinks, { storage, secret: (n) => settingValue(n), logger }).find((s) => s.name === name);
  if (!sink) throw new UsageError(`--sink ${name}: no sink of that name in O365_SINKS (configured: ${settings.relay.sinks.map((s) => s.name).join(', ')})`);
  return {
    sink,
    tenantId: settings.api.tenantIds[0] ?? settings.api.publisherId,
    open: async (content) => {
      let rejected = 0;
      const reasons = new Map<string, number>();
      const writer = await sink.open(content, {
        resumeAfter: 0,
        // Not dead-lettered: this is a test of the connection, and the operator reads the reasons here.
        rejected: async (records: readonly DecodedRecord[], reason: string) => {
          rejected += records.length;
          reasons.set(reason, (reasons.get(reason) ?? 0) + records.length);
        },
      });
      const redact = settings.relay.redactDlpDetections;
      return {
        write: (records) => writer.write(redact ? records.map(redactDetections) : records),
        close: () => writer.close(),
        abort: () => writer.abort(),
        get accepted() {
          return writer.accepted;
        },
        get rejected() {
          return rejected;
        },
        summary: () => {
          const why = [...reasons].slice(0, 3).map(([reason, n]) => (reasons.size > 1 ? `${n}: ${reason}` : reason));
          const more = reasons.size > 3 ? `; ${reasons.size - 3} other reason(s)` : '';
          return `${writer.accepted - rejected} delivered, ${rejected} rejected${rejected > 0 ? ` (${why.join('; ')}${more})` : ''}`;
        },
      };
    },
  };
}

/** A content reference for records that did not come from the API (a file given to decode). */
export function fileContentRef(tenantId: string, contentType: ContentRef['contentType']): ContentRef {
  return { tenantId, contentType, contentId: `cli$${Date.now()}$${randomBytes(4).toString('hex')}`, contentCreated: new Date().toISOString() };
}
