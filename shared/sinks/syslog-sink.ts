// The syslog sink: RFC 5424 messages over TCP with octet-counting framing (RFC 6587), or over TLS (RFC 5425)
// trusting exactly the configured CA, with an optional client certificate.
//
// Syslog has no acknowledgement, and a write callback only says the bytes reached the local kernel (they can
// still die in a send buffer, a proxy or the receiver's receive buffer when the connection drops). So a batch is
// "known flushed" only when the receiver has read it to the end: each batch goes over its own connection, we
// half-close after the last frame (FIN, or TLS close_notify + FIN), and the batch counts as accepted when the
// receiver closes its side in answer (a receiver reads up to our FIN before it sees end of stream and closes).
// A drop anywhere before that re-sends the whole batch on a new connection: delivery is at least once, with at
// most one batch of duplicates per drop, and `accepted` grows only at batch boundaries. One batch is in flight
// while the next one fills (write() resolves when the buffer has room again).
import net from 'node:net';
import { hostname as osHostname } from 'node:os';
import tls from 'node:tls';
import { z } from 'zod';
import { backoffDelay, type RetryPolicy } from '../api/retry';
import { systemClock, type Clock } from '../api/clock';
import { errorFields } from '../log';
import type { DecodedRecord } from '../records/decode';
import { formatLine } from '../records/line';
import { isConfigurationFailure } from './connection-failure';
import { SinkError, type ContentRef, type OpenOptions, type Sink, type SinkContext, type SinkWriter } from './sink';
import { MsgIdSource, octetFrame, SyslogFacility, SyslogSeverity, syslogMessage, type SyslogFormat } from './syslog-format';

const settingName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { error: 'must be the name of a setting' });
const headerText = (max: number) => z.string().regex(new RegExp(`^[!-~]{1,${max}}$`), { error: `must be 1-${max} printable ASCII characters without spaces` });

export const SyslogTlsSettings = z
  .strictObject({
    /** Setting holding the PEM of the CA that signed the receiver's certificate; the only CA trusted. */
    caSetting: settingName,
    /** Settings holding the client certificate chain and its private key (PEM), for receivers that ask for one. */
    certSetting: settingName.optional(),
    keySetting: settingName.optional(),
    /** Name checked against the receiver's certificate (and sent as SNI); default `host`. */
    serverName: z.string().min(1).optional(),
  })
  .refine((t) => (t.certSetting === undefined) === (t.keySetting === undefined), {
    error: 'certSetting and keySetting go together',
  });

export const SyslogSinkSettings = z.strictObject({
  host: z.string().min(1),
  /** Default 6514 with tls (RFC 5425), 514 without. */
  port: z.number().int().min(1).max(65535).optional(),
  /** Present: TLS. Absent: plain TCP. */
  tls: SyslogTlsSettings.optional(),
  facility: SyslogFacility.default('local0'),
  severity: SyslogSeverity.default('informational'),
  /** For records whose ResultStatus says the action failed (Failed, Failure, False). */
  failedSeverity: SyslogSeverity.default('warning'),
  /** HOSTNAME field; default this machine's host name. */
  hostname: headerText(255).optional(),
  appName: headerText(48).default('o365-audit-relay'),
  msgId: MsgIdSource.default('recordType'),
  sdId: z.string().regex(/^[!-~]{1,32}$/).refine((s) => !/[= \]"]/.test(s), { error: 'an SD-ID has no = ] " or space' }).default('o365@32473'),
  bom: z.boolean().default(true),
  /** rsyslog's default maxMessageSize is 8k; RFC 5424 receivers should take 2048. */
  maxMessageBytes: z.number().int().min(2048).max(1 << 20).default(8192),
  batchRecords: z.number().int().min(1).default(1000),
  batchBytes: z.number().int().min(1024).default(1 << 20),
  /** Connect, handshake, each write and the receiver's closing answer must each progress within this. */
  timeoutMs: z.number().int().min(100).default(10_000),
  /** Attempts per batch (the first included) and the time one batch may spend retrying. */
  maxAttempts: z.number().int().min(1).max(20).default(6),
  maxRetryMs: z.number().int().min(0).default(60_000),
  retryBaseMs: z.number().int().min(1).default(500),
  retryMaxDelayMs: z.number().int().min(1).default(30_000),
});
export type SyslogSinkSettings = z.infer<typeof SyslogSinkSettings>;

/** The factory's context; time and randomness injectable for tests. */
export interface SyslogSinkContext extends SinkContext {
  clock?: Clock;
  random?: () => number;
}

export interface SyslogSinkWriter extends SinkWriter {
  /** Batches sent again after a failed attempt (each may duplicate up to one batch at the receiver). */
  readonly resentBatches: number;
  /** Messages whose line was cut to fit maxMessageBytes. */
  readonly cutMessages: number;
}

export interface SyslogSink extends Sink {
  open(content: ContentRef, options: OpenOptions): Promise<SyslogSinkWriter>;
}

class AttemptError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
    readonly errorCode: string,
  ) {
    super(message);
  }
}

interface Batch {
  frames: Buffer[];
  bytes: number;
  records: number;
  /** Records the receiver cannot take at all (handed to `rejected`), with the reason. */
  rejected?: { records: DecodedRecord[]; reason: string };
}

export function createSyslogSink(name: string, settings: SyslogSinkSettings, context: SyslogSinkContext): SyslogSink {
  const clock = context.clock ?? systemClock;
  const random = context.random ?? Math.random;
  const port = settings.port ?? (settings.tls ? 6514 : 514);
  const where = `${settings.host}:${port}`;
  const label = `syslog sink ${name}`;
  const policy: RetryPolicy = { maxAttempts: settings.maxAttempts, baseDelayMs: settings.retryBaseMs, maxDelayMs: settings.retryMaxDelayMs, maxRetryAfterMs: 0 };
  const format: SyslogFormat = {
    facility: settings.facility,
    severity: settings.severity,
    failedSeverity: settings.failedSeverity,
    hostname: settings.hostname ?? osHostname(),
    appName: settings.appName,
    msgId: settings.msgId,
    sdId: settings.sdId,
    bom: settings.bom,
    maxMessageBytes: settings.maxMessageBytes,
  };

  // Secrets are read once, when the sink is made; a missing setting is a configuration error.
  let tlsOptions: tls.ConnectionOptions | undefined;
  const secrets: string[] = [];
  if (settings.tls) {
    const t = settings.tls;
    const read = (setting: string, isSecret: boolean): string => {
      let value: string;
      try {
        value = context.secret(setting);
      } catch {
        throw new SinkError(name, `${label}: the setting ${setting} is missing`, false);
      }
      if (isSecret) secrets.push(value);
      return value;
    };
    tlsOptions = {
      host: settings.host,
      port,
      ca: [read(t.caSetting, false)], // replaces the default trust store: only this CA is trusted
      servername: net.isIP(t.serverName ?? settings.host) === 0 ? (t.serverName ?? settings.host) : undefined,
      ...(t.serverName !== undefined ? { checkServerIdentity: (_host: string, cert: tls.PeerCertificate) => tls.checkServerIdentity(t.serverName!, cert) } : {}),
      ...(t.certSetting !== undefined && t.keySetting !== undefined ? { cert: read(t.certSetting, false), key: read(t.keySetting, true) } : {}),
      minVersion: 'TLSv1.2',
    };
    try {
      tls.createSecureContext({ ca: tlsOptions.ca, cert: tlsOptions.cert, key: tlsOptions.key });
    } catch {
      // OpenSSL's message never quotes the PEM, but say only which settings to check.
      throw new SinkError(name, `${label}: the PEM in ${[t.caSetting, t.certSetting, t.keySetting].filter(Boolean).join(', ')} cannot be read`, false);
    }
  }
  const logger = context.logger.withSecrets(secrets);

  /** One attempt: connect, write the batch, half-close, wait for the receiver to close in answer. */
  function sendOnce(batch: Batch, signal: AbortSignal | undefined): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      let ended = false;
      const socket: net.Socket = tlsOptions ? tls.connect(tlsOptions) : net.connect({ host: settings.host, port });
      const finish = (err?: AttemptError) => {
        if (settled) return;
        settled = true;
        signal?.removeEventListener('abort', onAbort);
        if (err) {
          socket.destroy();
          reject(err);
        } else resolve();
      };
      const onAbort = () => finish(new AttemptError(`${label}: aborted`, true, 'SINK_ABORTED'));
      signal?.addEventListener('abort', onAbort, { once: true });
      socket.setTimeout(settings.timeoutMs, () => finish(new AttemptError(`${label}: ${where} did not progress within ${settings.timeoutMs} ms`, true, 'ETIMEDOUT')));
      socket.on('error', (err: NodeJS.ErrnoException) => {
        const code = typeof err.code === 'string' ? err.code : 'ERROR';
        // The code and the address only: a TLS error's text could quote certificate details, never needed.
        finish(new AttemptError(`${label}: ${where} failed (${code})`, !isConfigurationFailure(code), code));
      });
      socket.on('data', () => undefined); // a syslog receiver sends nothing; keep the stream flowing
      socket.on('end', () => {
        if (!ended) finish(new AttemptError(`${label}: ${where} closed the connection before the batch was complete`, true, 'EPIPE'));
      });
      socket.on('close', (hadError: boolean) => {
        if (ended && !hadError) finish();
        else finish(new AttemptError(`${label}: ${where} closed the connection`, true, 'ECONNRESET'));
      });
      socket.once(tlsOptions ? 'secureConnect' : 'connect', () => {
        socket.cork();
        for (const frame of batch.frames) socket.write(frame);
        socket.uncork();
        ended = true;
        socket.end(); // FIN after the last frame; 'close' without error then means the receiver read it all
      });
    });
  }

  async function send(batch: Batch, signal: AbortSignal | undefined, onResend: () => void): Promise<void> {
    if (batch.frames.length === 0) return;
    const started = clock.now();
    for (let attempt = 1; ; attempt++) {
      if (signal?.aborted) throw new SinkError(name, `${label}: aborted`, true, 'SINK_ABORTED');
      try {
        await sendOnce(batch, signal);
        return;
      } catch (err) {
        const failure = err instanceof AttemptError ? err : new AttemptError(`${label}: ${where} failed`, true, 'ERROR');
        if (failure.errorCode === 'SINK_ABORTED') throw new SinkError(name, failure.message, true, 'SINK_ABORTED');
        if (!failure.retryable) throw new SinkError(name, failure.message, false);
        const delayMs = backoffDelay(attempt, policy, random);
        if (attempt >= policy.maxAttempts || clock.now() + delayMs - started > settings.maxRetryMs) {
          throw new SinkError(name, `${failure.message}; gave up after ${attempt} attempt(s)`, true);
        }
        logger.warn('syslog batch failed, retrying', { sink: name, attempt, delayMs, records: batch.records, ...errorFields(failure) });
        onResend();
        try {
          await clock.sleep(delayMs, signal);
        } catch {
          throw new SinkError(name, `${label}: aborted`, true, 'SINK_ABORTED');
        }
      }
    }
  }

  async function open(content: ContentRef, options: OpenOptions): Promise<SyslogSinkWriter> {
    // abort() cuts the connection on the wire too.
    const local = new AbortController();
    const signal = options.signal ? AbortSignal.any([options.signal, local.signal]) : local.signal;
    let skip = Math.max(0, options.resumeAfter);
    let accepted = skip;
    let resentBatches = 0;
    let cutMessages = 0;
    let state: 'open' | 'closed' | 'aborted' = 'open';
    let failure: SinkError | undefined;
    let current: Batch = { frames: [], bytes: 0, records: 0 };
    // The batch on the wire; the next one fills meanwhile.
    let inFlight: Promise<void> = Promise.resolve();
    let queue: Promise<void> = Promise.resolve();

    const deliver = async (batch: Batch): Promise<void> => {
      await send(batch, signal, () => resentBatches++);
      if (batch.rejected) {
        if (!options.rejected) throw new SinkError(name, `${label}: ${batch.rejected.reason}`, false);
        await options.rejected(batch.rejected.records, batch.rejected.reason);
      }
      accepted += batch.records;
      await options.onAccepted?.(accepted);
    };

    /** Waits for the batch on the wire, then puts this one there. */
    const dispatch = async (batch: Batch): Promise<void> => {
      await inFlight;
      if (failure) throw failure;
      const run = deliver(batch);
      inFlight = run.catch((err: unknown) => {
        failure ??= err instanceof SinkError ? err : new SinkError(name, `${label}: delivery failed`, true);
      });
    };

    const cut = async (): Promise<void> => {
      const batch = current;
      current = { frames: [], bytes: 0, records: 0 };
      if (batch.records > 0) await dispatch(batch);
    };

    const serial = (step: () => Promise<void>): Promise<void> => {
      const run = queue.then(async () => {
        if (failure) throw failure;
        if (state !== 'open') throw new Error(`${label}: the writer is ${state}`);
        if (signal?.aborted) throw new SinkError(name, `${label}: aborted`, true, 'SINK_ABORTED');
        await step();
        if (failure) throw failure;
      });
      queue = run.catch(() => undefined);
      return run;
    };

    return {
      get accepted() {
        return accepted;
      },
      get resentBatches() {
        return resentBatches;
      },
      get cutMessages() {
        return cutMessages;
      },
      write: (records) =>
        serial(async () => {
          for (const record of records) {
            if (skip > 0) {
              skip--;
              continue;
            }
            const message = syslogMessage(record, formatLine(record), content, format);
            if (!message.ok) {
              // Sent in order: what is buffered goes first, then this record goes to the dead letter alone.
              await cut();
              await dispatch({ frames: [], bytes: 0, records: 1, rejected: { records: [record], reason: message.reason } });
              continue;
            }
            if (message.cutBytes > 0) cutMessages++;
            const frame = octetFrame(message.bytes);
            current.frames.push(frame);
            current.bytes += frame.length;
            current.records++;
            if (current.records >= settings.batchRecords || current.bytes >= settings.batchBytes) await cut();
          }
        }),
      close: () =>
        serial(async () => {
          await cut();
          await inFlight;
          if (failure) throw failure;
          state = 'closed';
        }),
      abort: async () => {
        state = 'aborted';
        current = { frames: [], bytes: 0, records: 0 };
        failure ??= new SinkError(name, `${label}: aborted`, true, 'SINK_ABORTED');
        local.abort();
        await inFlight;
      },
    };
  }

  return { name, open };
}
