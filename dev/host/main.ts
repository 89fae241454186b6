// CLI for the dev host: `node dist/dev/host/main.js --app <path> [--host-json <file>] [--port 7071] [--azurite]
// [--message-lease <seconds>]` (how long a running queue message stays invisible; short in crash tests).
// App settings come from the environment, then local.settings.json `Values` in the app root (as Core Tools does;
// the environment wins). `--azurite` starts Azurite in-process and points AzureWebJobsStorage at it.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { createLogger, errorFields } from '../../shared/log';
import { startAzurite, type RunningAzurite } from '../azurite';
import { locateApp } from './app-loader';
import { startHost } from './host';

const DEFAULT_PORT = 7071; // Core Tools' port, so webhook URLs look the same as with `func start`

const localSettingsSchema = z.object({ Values: z.record(z.string(), z.string()).optional() }).loose();

function readLocalSettings(root: string): Record<string, string> {
  const file = join(root, 'local.settings.json');
  return existsSync(file) ? localSettingsSchema.parse(JSON.parse(readFileSync(file, 'utf8'))).Values ?? {} : {};
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      app: { type: 'string', default: '.' },
      'host-json': { type: 'string' },
      port: { type: 'string', default: String(DEFAULT_PORT) },
      azurite: { type: 'boolean', default: false },
      'message-lease': { type: 'string' },
    },
  });
  const logger = createLogger();
  const cwd = process.cwd();
  const { root } = locateApp(values.app, cwd);
  const settings: Record<string, string> = { ...readLocalSettings(root) };
  for (const [key, value] of Object.entries(process.env)) if (value !== undefined && key in settings) settings[key] = value;

  let azurite: RunningAzurite | undefined;
  if (values.azurite) {
    azurite = await startAzurite();
    const current = settings['AzureWebJobsStorage'] ?? process.env['AzureWebJobsStorage'];
    if (!current || /UseDevelopmentStorage=true/i.test(current)) settings['AzureWebJobsStorage'] = azurite.connectionString;
    logger.info('azurite started', { blob: azurite.blobUrl, queue: azurite.queueUrl, table: azurite.tableUrl });
  }

  const port = Number(values.port);
  let host;
  try {
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port must be a port number, got "${values.port}".`);
    const leaseSeconds = values['message-lease'] === undefined ? undefined : Number(values['message-lease']);
    if (leaseSeconds !== undefined && !(Number.isInteger(leaseSeconds) && leaseSeconds >= 2)) throw new Error(`--message-lease must be whole seconds (at least 2), got "${values['message-lease']}".`);
    host = await startHost({
      appPath: values.app, hostJsonPath: values['host-json'] ?? join(root, 'host.json'), env: settings, port, cwd, logger,
      ...(leaseSeconds === undefined ? {} : { messageLeaseMs: leaseSeconds * 1000 }),
    });
  } catch (err) {
    await azurite?.close();
    throw err;
  }
  const running = host;
  logger.info('host started', { url: running.url });

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await running.close();
    await azurite?.close();
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
}

main().catch((err: unknown) => {
  createLogger().error('dev host failed to start', errorFields(err));
  process.exitCode = 1;
});
