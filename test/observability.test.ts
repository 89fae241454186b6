// The workbook (infra/workbook.json) and the alert rules (infra/alerts/*.kql, in infra/main.bicep) against the app:
// they query exactly the metric and event names the code emits (read from the source, so a renamed metric fails
// here), every query passes Microsoft's KQL analyzer against the declared tables with zero diagnostics, and the
// heartbeat timer, fired on the local stack, emits the beat and the health verdict as metrics.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { QueueClient } from '@azure/storage-queue';
import { after, before, describe, it } from 'node:test';
import { afCodes, clientCodes } from '../shared/api/errors';
import { createLogger } from '../shared/log';
import type { HealthReport, StreamHealth } from '../shared/pipeline/health';
import { healthMetricNames, healthMetrics } from '../shared/pipeline/health-metrics';
import { relayServices, relayWebhookContext } from '../shared/services';
import { contentQueueName } from '../shared/state/content-queue';
import { recordingTelemetry } from '../shared/telemetry';
import { startLocalStack, type LocalStack } from '../dev/local-stack';
import { appInsightsTables } from './support/app-insights-schema';
import { repoRoot } from './support/fixtures';
import { kqlAnalyzer } from './support/kql-check';

// ---- what the code emits ----

/** Source files that emit telemetry; shared/telemetry* only define and forward the interface. */
function sourceFiles(dir: string): string[] {
  return readdirSync(path.join(repoRoot, dir), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))
    .map((f) => path.join(dir, f))
    .filter((f) => !/^shared[\\/]telemetry/.test(f));
}

/** The first argument of every `.metric(` / `.event(` call: its string literals (both arms of a ternary). */
function emittedNames(kind: 'metric' | 'event'): { names: Set<string>; unnamed: string[] } {
  const names = new Set<string>();
  const unnamed: string[] = [];
  const call = new RegExp(`\\.${kind}\\(`, 'g');
  for (const file of [...sourceFiles('shared'), ...sourceFiles('functions')]) {
    const text = readFileSync(path.join(repoRoot, file), 'utf8');
    for (const m of text.matchAll(call)) {
      let depth = 0;
      let end = m.index + m[0].length;
      for (; end < text.length; end++) {
        const c = text[end]!;
        if (c === '(' || c === '[' || c === '{') depth++;
        else if (c === ')' || c === ']' || c === '}') {
          if (depth === 0) break;
          depth--;
        } else if (c === ',' && depth === 0) break;
      }
      const argument = text.slice(m.index + m[0].length, end);
      const literals = [...argument.matchAll(/'([A-Za-z][\w.]*)'/g)].map((l) => l[1]!);
      if (literals.length === 0) unnamed.push(`${file}: ${argument.trim()}`);
      for (const name of literals) names.add(name);
    }
  }
  return { names, unnamed };
}

// ---- what the workbook and the alerts query ----

interface Query {
  where: string;
  text: string;
}

interface WorkbookItem {
  type: number;
  name?: string;
  content?: { query?: string; parameters?: Array<{ name: string; type: number; query?: string; value?: unknown }>; items?: WorkbookItem[] };
}

const workbook = JSON.parse(readFileSync(path.join(repoRoot, 'infra', 'workbook.json'), 'utf8')) as { items: WorkbookItem[] };
const bicep = readFileSync(path.join(repoRoot, 'infra', 'main.bicep'), 'utf8');
const alertFiles = readdirSync(path.join(repoRoot, 'infra', 'alerts')).filter((f) => f.endsWith('.kql'));

function workbookQueries(items: readonly WorkbookItem[] = workbook.items): Query[] {
  return items.flatMap((item) => [
    ...(item.content?.query ? [{ where: `workbook item ${item.name}`, text: item.content.query }] : []),
    ...(item.content?.parameters ?? []).flatMap((p) => (p.query ? [{ where: `workbook parameter ${p.name}`, text: p.query }] : [])),
    ...workbookQueries(item.content?.items ?? []),
  ]);
}
const alertQueries: Query[] = alertFiles.map((f) => ({ where: `infra/alerts/${f}`, text: readFileSync(path.join(repoRoot, 'infra', 'alerts', f), 'utf8') }));
const allQueries = [...workbookQueries(), ...alertQueries];

/** Workbook parameters as the workbook expands them into a query: a sample value per placeholder. */
const placeholderSamples: Record<string, string> = {
  '{TimeRange:grain}': '1h',
  '{Tenant}': '3e1a9b42-f5fb-49f0-ad1b-05d97491bc66',
  '{TopN}': '10',
};
const declaredParameters = new Set(workbook.items.flatMap((i) => i.content?.parameters ?? []).map((p) => p.name));

function expand(text: string): string {
  return text.replace(/\{[A-Za-z]+(:[a-z]+)?\}/g, (placeholder) => {
    const sample = placeholderSamples[placeholder];
    assert.ok(sample !== undefined, `a sample value for ${placeholder}`);
    return sample;
  });
}

/** Every name a query compares `name` with: `name == 'x'` and `name in ('x', 'y')`. */
function queriedNames(text: string): string[] {
  const names: string[] = [];
  for (const m of text.matchAll(/\bname\s*(?:==\s*'([^']+)'|in\s*\(([^)]*)\))/g)) {
    if (m[1]) names.push(m[1]);
    else names.push(...[...m[2]!.matchAll(/'([^']+)'/g)].map((l) => l[1]!));
  }
  return names;
}

describe('workbook and alert queries use the names the app emits', () => {
  const metrics = emittedNames('metric');
  const events = emittedNames('event');
  // The heartbeat emits through healthMetrics(), whose names are data: read them from there.
  for (const name of Object.values(healthMetricNames)) metrics.names.add(name);

  it('finds every metric and event name in the source (a call without a literal name would escape this check)', () => {
    assert.deepEqual(metrics.unnamed.filter((u) => !u.includes('point.name') && !u.includes('healthMetricNames.')), []);
    assert.deepEqual(events.unnamed, []);
    for (const name of ['notifications.received', 'records.delivered', 'records.deadLettered', 'lag.contentCreated', 'api.throttled', 'listing.refused', 'messages.poisoned']) {
      assert.ok(metrics.names.has(name), name);
    }
    assert.ok(events.names.has('subscription.disabled') && events.names.has('webhook.warmup'));
  });

  it('queries no name the app does not emit, and shows every one it does', () => {
    const emitted = new Set([...metrics.names, ...events.names]);
    const used = new Map<string, string>();
    for (const q of allQueries) for (const name of queriedNames(q.text)) used.set(name, q.where);
    assert.deepEqual([...used].filter(([name]) => !emitted.has(name)).map(([name, where]) => `${where}: ${name}`), [], 'queried but never emitted');
    const shown = new Set(workbookQueries().flatMap((q) => queriedNames(q.text)));
    assert.deepEqual([...emitted].filter((n) => !shown.has(n)).sort(), [], 'emitted but not in the workbook');
  });

  it('reads metrics from customMetrics and events from customEvents', () => {
    for (const q of allQueries) {
      // Each table's pipeline runs until the next table name: names compared there must be of that kind.
      for (const part of q.text.split(/(?=\b(?:customMetrics|customEvents)\b)/)) {
        const names = queriedNames(part);
        if (part.startsWith('customMetrics')) assert.deepEqual(names.filter((n) => !metrics.names.has(n)), [], `${q.where}: metric names`);
        if (part.startsWith('customEvents')) assert.deepEqual(names.filter((n) => !events.names.has(n)), [], `${q.where}: event names`);
      }
    }
  });

  it('alerts on sign-in and consent failing with exactly the configuration error codes', () => {
    const table = { ...afCodes, ...clientCodes } as Record<string, { kind: string }>;
    const configuration = Object.keys(table).filter((code) => table[code]!.kind === 'configuration' && code !== 'AF20020');
    const text = alertQueries.find((q) => q.where.endsWith('sign-in-failing.kql'))!.text;
    const listed = [.../let codes = dynamic\(\[([^\]]*)\]\)/.exec(text)![1]!.matchAll(/'([^']+)'/g)].map((m) => m[1]!);
    // AF20020 (a wrong content type) is a setting, not sign-in or consent, but the same "a person must act".
    assert.deepEqual([...listed].sort(), [...configuration, 'AF20020'].sort());
  });
});

describe('every query passes the KQL check against the declared tables', () => {
  const analyze = kqlAnalyzer();

  it('declares each placeholder the queries use as a workbook parameter', () => {
    assert.ok(allQueries.length >= 30, `${allQueries.length} queries`);
    for (const q of allQueries) {
      for (const m of q.text.matchAll(/\{([A-Za-z]+)(?::[a-z]+)?\}/g)) assert.ok(declaredParameters.has(m[1]!), `${q.where}: {${m[1]}} is a parameter`);
      for (const table of q.text.matchAll(/^\s*\|?\s*(?:union\s*\()?\s*\(?([A-Za-z]+)\s*$/gm)) {
        assert.ok(table[1]! in appInsightsTables || table[1] === 'print', `${q.where}: table ${table[1]}`);
      }
    }
  });

  it('has zero diagnostics in every workbook and alert query', () => {
    const problems = allQueries.flatMap((q) => analyze(expand(q.text)).map((d) => `${q.where}: ${d.severity} ${d.message} at ${d.start}`));
    assert.deepEqual(problems, []);
  });

  it('has teeth: a misspelt column, table or function is a diagnostic', () => {
    for (const bad of ["customMetrics | where nam == 'heartbeat'", "customMetric | where name == 'heartbeat'", 'customMetrics | summarize percentil(value, 95)', 'customMetrics | where']) {
      assert.ok(analyze(bad).length > 0, bad);
    }
  });
});

describe('the template deploys the workbook and every alert query', () => {
  it('loads the workbook and each alert file', () => {
    assert.ok(bicep.includes("loadJsonContent('workbook.json')"), 'main.bicep loads workbook.json');
    for (const f of alertFiles) assert.ok(bicep.includes(`loadTextContent('alerts/${f}')`), `main.bicep loads alerts/${f}`);
  });

  it('gives each rule a measure column its query produces, and splits by tenant only where the query has a tenantId', () => {
    const rules = [...bicep.matchAll(/query: loadTextContent\('alerts\/([\w-]+\.kql)'\)\n\s+measure: '(\w+)'[\s\S]*?split: (true|false)/g)];
    assert.equal(rules.length, alertFiles.length);
    for (const [, file, measure, split] of rules) {
      const text = alertQueries.find((q) => q.where.endsWith(`/${file}`))!.text;
      assert.match(text, new RegExp(`\\b${measure} = `), `${file} computes ${measure}`);
      assert.equal(/\bby tenantId\b/.test(text), split === 'true', `${file}: split by tenantId ${split}`);
    }
  });
});

// ---- the heartbeat ----

const tenant = '3e1a9b42-f5fb-49f0-ad1b-05d97491bc66';
const stream = (contentType: StreamHealth['contentType'], status: StreamHealth['status'], changes: Partial<StreamHealth> = {}): StreamHealth => ({
  tenantId: tenant,
  contentType,
  status,
  reasons: [],
  subscription: { status: 'enabled', webhookStatus: 'enabled' },
  lastNotification: null,
  lastReconcile: null,
  cursor: null,
  reconcileLagMs: 0,
  notificationAgeMs: null,
  refused: null,
  subscriptionCheckedAt: null,
  ...changes,
});
const report = (streams: StreamHealth[], changes: Partial<HealthReport> = {}): HealthReport => ({
  status: 'ok',
  reasons: [],
  checkedAt: '2026-11-25T12:00:00.000Z',
  queue: { backlog: 2, poison: 0 },
  deadLetter: { count: 0 },
  streams,
  ...changes,
});

describe('healthMetrics (pure)', () => {
  it('reports the verdict, streams per level (zeros too) and the counters, and no row per healthy stream', () => {
    const points = healthMetrics(report([stream('Audit.Exchange', 'ok'), stream('DLP.All', 'ok')]));
    assert.deepEqual(points, [
      { name: 'health.status', value: 0, properties: { status: 'ok' } },
      { name: 'health.streams', value: 2, properties: { status: 'ok' } },
      { name: 'health.streams', value: 0, properties: { status: 'degraded' } },
      { name: 'health.streams', value: 0, properties: { status: 'failing' } },
      { name: 'health.queueBacklog', value: 2 },
      { name: 'health.poison', value: 0 },
      { name: 'health.deadLetters', value: 0 },
    ]);
  });

  it('names each stream that is not ok among good ones, with its subscription and webhook state; leaves out counters not probed', () => {
    const points = healthMetrics(report([
      stream('Audit.Exchange', 'ok'),
      stream('Audit.General', 'failing', { subscription: { status: 'Disabled', webhookStatus: null }, reasons: ['subscription disabled'] }),
      stream('DLP.All', 'failing', { subscription: null, reasons: ['no subscription'] }),
      stream('Audit.SharePoint', 'degraded', { subscription: null, reasons: ['subscription list unavailable: SIGN_IN_FAILED', 'never reconciled nor subscribed'] }),
    ], { status: 'failing', queue: { backlog: null, poison: null }, deadLetter: { count: 3 } }));
    assert.equal(points.find((p) => p.name === 'health.status')?.value, 2);
    assert.deepEqual(points.filter((p) => p.name === 'health.streams').map((p) => [p.properties?.['status'], p.value]), [['ok', 1], ['degraded', 1], ['failing', 2]]);
    assert.deepEqual(points.filter((p) => p.name.startsWith('health.') && !p.properties).map((p) => [p.name, p.value]), [['health.deadLetters', 3]]);
    assert.deepEqual(points.filter((p) => p.name === 'health.stream').map((p) => p.properties), [
      { tenantId: tenant, contentType: 'Audit.General', status: 'failing', subscription: 'disabled', webhook: 'none', reasons: 'subscription disabled' },
      { tenantId: tenant, contentType: 'DLP.All', status: 'failing', subscription: 'missing', webhook: 'unknown', reasons: 'no subscription' },
      { tenantId: tenant, contentType: 'Audit.SharePoint', status: 'degraded', subscription: 'unknown', webhook: 'unknown', reasons: 'subscription list unavailable: SIGN_IN_FAILED; never reconciled nor subscribed' },
    ]);
  });
});

describe('heartbeat timer on the local stack', () => {
  let stack: LocalStack;
  const telemetry = recordingTelemetry();
  before(async () => {
    stack = await startLocalStack({
      port: 0,
      // The compiled app (not the bundle): the host then shares this process's modules, so the test can hand the
      // services a recording telemetry and observe what the timer emits.
      appPath: path.join(repoRoot, 'dist', 'functions', 'index.js'),
      hostJsonPath: path.join(repoRoot, 'test', 'support', 'relay-e2e-host.json'),
      overrides: { O365_RECONCILE_SCHEDULE: '0 0 0 1 1 *', O365_HEARTBEAT_SCHEDULE: '0 0 0 1 1 *', O365_LOG_LEVEL: 'error' },
      logger: createLogger({ level: 'error' }),
    });
    relayWebhookContext().telemetry = telemetry;
    relayServices().telemetry = telemetry;
  });
  after(async () => {
    await stack?.close();
  });

  const beat = async () => {
    telemetry.metrics.length = 0;
    await stack.host.fireTimer('heartbeat');
  };

  it('beats and reports a disabled subscription as failing, naming only that stream', async () => {
    // The keeper's timer plans; keepTenant, a queue function, keeps each tenant.
    await stack.host.fireTimer('subscriptionKeeper');
    await stack.host.idle({ timeoutMs: 30_000 });
    stack.simulator.disableSubscription(stack.tenantId, 'Audit.General');
    // Health reads the subscription state the keeper stores: its next pass sees the disabled one.
    await stack.host.fireTimer('subscriptionKeeper');
    await stack.host.idle({ timeoutMs: 30_000 });
    await beat();
    assert.equal(telemetry.total('heartbeat'), 1);
    assert.equal(telemetry.total('health.status', { status: 'failing' }), 2);
    assert.equal(telemetry.total('health.streams', { status: 'ok' }), 4);
    assert.equal(telemetry.total('health.streams', { status: 'failing' }), 1);
    const streams = telemetry.metrics.filter((m) => m.name === 'health.stream');
    assert.deepEqual(streams.map((m) => [m.properties?.['contentType'], m.properties?.['subscription'], m.properties?.['status']]), [['Audit.General', 'disabled', 'failing']]);
    assert.equal(telemetry.total('health.poison'), 0);
    assert.equal(telemetry.total('health.deadLetters'), 0);
  });

  it('counts a poison message on the next beat', async () => {
    const poison = new QueueClient(stack.azurite.connectionString, `${contentQueueName}-poison`);
    await poison.createIfNotExists();
    await poison.sendMessage(Buffer.from('{"not":"content"}').toString('base64'));
    await beat();
    assert.equal(telemetry.total('heartbeat'), 1);
    assert.equal(telemetry.total('health.poison'), 1);
    assert.equal(telemetry.metrics.filter((m) => m.name === 'health.poison').length, 1);
  });
});
