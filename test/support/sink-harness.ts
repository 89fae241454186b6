// What the HTTP sink tests share: generated records, a fake clock (no real waiting, every sleep recorded), a
// SinkContext whose secrets come from a map and whose log lines are captured, and a driver that writes records
// through a writer the way the content worker does.
import { generateRecords } from '../../dev/record-generator';
import type { Clock } from '../../shared/api/clock';
import { createLogger } from '../../shared/log';
import { decodeRecord, type DecodedRecord } from '../../shared/records/decode';
import type { ContentRef, OpenOptions, Sink, SinkContext } from '../../shared/sinks/sink';

export function records(count: number, seed = 7): DecodedRecord[] {
  return [...generateRecords(count, { seed })].map((r) => decodeRecord(r));
}

export function idsOf(list: readonly DecodedRecord[]): string[] {
  return list.map((r) => String(r.common.Id));
}

export const content: ContentRef = {
  tenantId: '4a0cd6f4-4b8c-4c36-9f5c-0f1e6b0c2c11',
  contentType: 'Audit.General',
  contentId: '20240514000000000000000$20240514010000000000000$audit_general$Audit_General$emea0026',
  contentCreated: '2024-05-14T01:00:00.000Z',
};

export interface FakeClock extends Clock {
  sleeps: number[];
}

export function fakeClock(start = Date.parse('2024-05-14T02:00:00Z')): FakeClock {
  let now = start;
  const sleeps: number[] = [];
  return {
    sleeps,
    now: () => now,
    sleep: async (ms, signal) => {
      if (signal?.aborted) throw signal.reason;
      sleeps.push(ms);
      now += ms;
    },
  };
}

export interface TestContext extends SinkContext {
  lines: string[];
}

export function testContext(secrets: Record<string, string>): TestContext {
  const lines: string[] = [];
  return {
    lines,
    secret: (name) => {
      const value = secrets[name];
      if (value === undefined) throw new Error(`setting ${name} is not set`);
      return value;
    },
    // Captured unredacted by the base logger: only the sink's own redaction keeps the token out.
    logger: createLogger({ level: 'debug', write: (line) => lines.push(line) }),
  };
}


/** Opens, writes in chunks of `chunk` records, closes; returns the writer (for `accepted`). */
export async function deliver(sink: Sink, list: readonly DecodedRecord[], options: OpenOptions, chunk = 37) {
  const writer = await sink.open(content, options);
  for (let i = 0; i < list.length; i += chunk) await writer.write(list.slice(i, i + chunk));
  await writer.close();
  return writer;
}

/** Like deliver, but resolves to the error close()/write() rejected with, and the writer. */
export async function deliverExpectingFailure(sink: Sink, list: readonly DecodedRecord[], options: OpenOptions, chunk = 37) {
  const writer = await sink.open(content, options);
  try {
    for (let i = 0; i < list.length; i += chunk) await writer.write(list.slice(i, i + chunk));
    await writer.close();
  } catch (err) {
    return { error: err, writer };
  }
  throw new Error('delivery was expected to fail');
}
