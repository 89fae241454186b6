#!/usr/bin/env node
// o365-relay: the command-line entry. Each command is one entry of the table below.
import { backfillUsage, runBackfill } from './backfill';
import { contentUsage, runContent } from './content';
import { decodeUsage, runDecode } from './decode';
import { doctorUsage, runDoctor } from './doctor';
import { redeliverUsage, runRedeliver } from './redeliver';
import { replayPoisonUsage, runReplayPoison } from './replay-poison';
import { reportUsage, runReport } from './report';
import { runSubscriptions, subscriptionsUsage } from './subscriptions';
import { runTenants, tenantsUsage } from './tenants';
import { UsageError } from './usage-error';

interface Command {
  summary: string;
  run(argv: string[]): Promise<number>;
}

const firstLine = (usage: string) => usage.split('\n')[0]!.replace('usage: ', '');
const io = { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr };

const commands: Readonly<Record<string, Command>> = {
  decode: { summary: firstLine(decodeUsage), run: (argv) => runDecode(argv, io) },
  subscriptions: { summary: firstLine(subscriptionsUsage), run: runSubscriptions },
  content: { summary: firstLine(contentUsage), run: runContent },
  backfill: { summary: firstLine(backfillUsage), run: runBackfill },
  'replay-poison': { summary: firstLine(replayPoisonUsage), run: runReplayPoison },
  redeliver: { summary: firstLine(redeliverUsage), run: runRedeliver },
  doctor: { summary: firstLine(doctorUsage), run: runDoctor },
  report: { summary: firstLine(reportUsage), run: (argv) => runReport(argv) },
  tenants: { summary: firstLine(tenantsUsage), run: runTenants },
};

function usage(): string {
  return ['usage: o365-relay <command> [options]', '', ...Object.values(commands).map((c) => `  ${c.summary}`)].join('\n');
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage() + '\n');
    return name === undefined ? 1 : 0;
  }
  const command = Object.hasOwn(commands, name) ? commands[name] : undefined; // `constructor` is not a command
  if (!command) throw new UsageError(`unknown command ${name}\n${usage()}`);
  return command.run(rest);
}

// A reader that stops early (`| head`) is not an error.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`o365-relay: ${message}\n`);
    if (!(err instanceof UsageError) && process.env.O365_RELAY_DEBUG) process.stderr.write(`${(err as Error).stack}\n`);
    process.exitCode = 1;
  },
);
