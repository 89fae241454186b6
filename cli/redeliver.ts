// o365-relay redeliver [--sink NAME] [--since 2d]: sends dead-lettered events back to their sinks now (the app's
// `redeliver` timer does the same every 15 minutes). Uses the app's settings (storage and sinks).
import { redeliver } from '../shared/pipeline/redeliver';
import { relayServices } from '../shared/services';
import { parseTimeArg } from './time-arg';
import { parseCommandLine } from './command-line';
import { UsageError } from './usage-error';

export const redeliverUsage = `usage: o365-relay redeliver [--sink NAME] [--since TIME]
  Re-delivers events from the dead-letter container to their sinks; what a sink still refuses stays there.`;

export async function runRedeliver(argv: string[]): Promise<number> {
  const { values } = parseCommandLine({ args: argv, options: { sink: { type: 'string' }, since: { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
  if (values.help) {
    process.stdout.write(redeliverUsage + '\n');
    return 0;
  }
  const s = relayServices();
  if (values.sink !== undefined && !s.sinkNamed(values.sink)) throw new UsageError(`--sink ${values.sink}: no sink of that name in O365_SINKS`);
  await s.ready();
  await s.tenantRecords(); // a registry tenant's own sink tokens
  const report = await redeliver(
    { deadLetter: s.deadLetter, sinkNamed: s.sinkNamed, logger: s.logger, telemetry: s.telemetry },
    { ...(values.sink ? { sink: values.sink } : {}), ...(values.since ? { since: parseTimeArg(values.since, '--since', new Date()) } : {}) },
  );
  process.stdout.write(`redelivered ${report.redelivered} dead-letter entr${report.redelivered === 1 ? 'y' : 'ies'} (${report.records} records); ${report.left} left\n`);
  s.client.close();
  return report.left > 0 ? 2 : 0;
}
