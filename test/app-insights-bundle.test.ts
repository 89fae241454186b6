// The Application Insights SDK is not in the main bundle: bundle/main.js imports bundle/app-insights.js only when
// APPLICATIONINSIGHTS_CONNECTION_STRING is set. Proof that the on-demand file works: the local host runs the built
// bundle as a child process with a connection string whose ingestion endpoint is a loopback server playing
// Application Insights' track endpoint over TLS (the exporter POSTs gzipped envelopes to /v2.1/track), and a webhook call
// the app refuses yields the `notifications.refused` metric there. Run `npm run build` first.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { startAzurite, type RunningAzurite } from '../dev/azurite';
import { freePort } from '../dev/free-port';
import { simulatorClientSettings, startSimulator, type Simulator } from '../dev/simulator';
import { createServerPki, type ServerPki } from '../dev/simulator/certificates';
import { repoRoot } from './support/fixtures';
import { startHost, until, type HostProcess } from './support/host-process';

const tenantId = '3e1a9b42-f5fb-49f0-ad1b-05d97491bc66';
const clientId = '676e8273-3c93-4205-910f-614bb4396a55';

interface Envelope {
  name?: string;
  data?: { baseType?: string; baseData?: { metrics?: Array<{ name: string; value: number }>; properties?: Record<string, string> } };
}

let sim: Simulator;
let azurite: RunningAzurite;
let ingestion: https.Server;
let pki: ServerPki;
let host: HostProcess | undefined;
const envelopes: Envelope[] = [];
const paths: string[] = [];

before(async () => {
  const clientSecret = randomBytes(18).toString('base64url');
  sim = await startSimulator({ tenants: [{ tenantId, apps: [{ clientId, clientSecret }] }] });
  azurite = await startAzurite();
  // The exporter always speaks TLS to the ingestion endpoint: a throwaway CA, trusted by the host via NODE_EXTRA_CA_CERTS.
  pki = await createServerPki();
  ingestion = https.createServer({ cert: pki.serverCertPem, key: pki.serverKeyPem }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      paths.push(`${req.method} ${req.url}`);
      const body = Buffer.concat(chunks);
      try {
        const text = (req.headers['content-encoding'] === 'gzip' ? gunzipSync(body) : body).toString('utf8');
        const parsed = JSON.parse(text) as Envelope | Envelope[];
        envelopes.push(...[parsed].flat());
      } catch {
        // not an envelope batch (e.g. a probe): counted in `paths` only
      }
      const count = envelopes.length;
      res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ itemsReceived: count, itemsAccepted: count, errors: [] }));
    });
  });
  await new Promise<void>((resolve) => ingestion.listen(0, '127.0.0.1', resolve));
  const ingestionUrl = `https://127.0.0.1:${(ingestion.address() as AddressInfo).port}/`;
  const port = await freePort();
  const authId = randomBytes(24).toString('base64url');
  const webhookUrl = `http://127.0.0.1:${port}/api/notifications`;
  host = await startHost(
    {
      label: 'bundled app with Application Insights',
      port,
      hostJson: path.join('test', 'support', 'relay-e2e-host.json'),
      messageLeaseSeconds: 30,
      env: {
        AzureWebJobsStorage: azurite.connectionString,
        ...simulatorClientSettings(sim, { tenantId, clientId, clientSecret }),
        O365_WEBHOOK_URL: webhookUrl,
        O365_WEBHOOK_AUTH_ID: authId,
        O365_RECONCILE_SCHEDULE: '0 0 0 1 1 *',
        O365_KEEPER_SCHEDULE: '0 0 0 1 1 *',
        O365_REDELIVER_SCHEDULE: '0 0 0 1 1 *',
        O365_LOG_LEVEL: 'warn',
        APPLICATIONINSIGHTS_CONNECTION_STRING: `InstrumentationKey=00000000-0000-4000-8000-000000000000;IngestionEndpoint=${ingestionUrl}`,
        // Metrics are exported every 60 s by default; a second keeps the test short.
        OTEL_METRIC_EXPORT_INTERVAL: '1000',
        APPLICATIONINSIGHTS_STATSBEAT_DISABLED_ALL: 'true',
        NODE_EXTRA_CA_CERTS: pki.caCertPath,
      },
    },
    webhookUrl,
    authId,
  );
});

after(async () => {
  await host?.stop('SIGKILL');
  ingestion?.closeAllConnections();
  await new Promise((resolve) => ingestion?.close(resolve));
  await sim?.close();
  await azurite?.close();
  await pki?.remove();
});

describe('Application Insights from the bundled app', () => {
  it('keeps the SDK out of bundle/main.js and in bundle/app-insights.js', () => {
    const main = readFileSync(path.join(repoRoot, 'bundle', 'main.js'), 'utf8');
    const sdk = readFileSync(path.join(repoRoot, 'bundle', 'app-insights.js'), 'utf8');
    assert.match(main, /import\("\.\/app-insights\.js"\)/);
    assert.ok(!main.includes('node_modules/applicationinsights/'), 'the SDK is not bundled into main.js');
    assert.ok(sdk.includes('node_modules/applicationinsights/'), 'the SDK is in the on-demand file');
  });

  it('loads the on-demand file and delivers a metric to the ingestion endpoint', async () => {
    // A webhook call with a wrong authId: answered 401 and counted as notifications.refused {reason: http-401}.
    const refused = await fetch(`http://127.0.0.1:${host!.options.port}/api/notifications`, {
      method: 'POST',
      headers: { 'Webhook-AuthID': 'not-the-auth-id-0123456789', 'Content-Type': 'application/json' },
      body: JSON.stringify([{ tenantId, clientId, contentType: 'Audit.Exchange', contentId: 'x', contentUri: 'https://example.invalid/' }]),
    });
    assert.equal(refused.status, 401);
    const metric = () =>
      envelopes.find((e) => e.data?.baseType === 'MetricData' && e.data.baseData?.metrics?.some((m) => m.name === 'notifications.refused'));
    await until('the ingestion endpoint received notifications.refused', () => metric() !== undefined, 30_000, 200).catch((err: unknown) => {
      throw new Error(`${String(err)}\nrequests: ${paths.slice(-10).join(', ')}\n${host!.tail()}`);
    });
    assert.ok(paths.some((p) => p.startsWith('POST /v2.1/track')), paths.join(', '));
    const found = metric()!;
    assert.equal(found.data?.baseData?.properties?.['reason'], 'http-401');
    assert.ok(found.data!.baseData!.metrics!.find((m) => m.name === 'notifications.refused')!.value >= 1);
  });
});
