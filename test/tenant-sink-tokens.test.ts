// A tenant's own SIEM token by reference (registry row sinkTokens): the row's rules, and the real HTTPS JSON and
// Splunk HEC sinks sending the tenant's token (resolved at open, picked up again after rotation) to loopback
// receivers that check the Authorization header, while other tenants keep the sink's own token. A reference that
// cannot be read fails only that tenant's share, as a waiting failure, logged once with the reference only.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createLogger } from '../shared/log';
import { TenantRecord } from '../shared/pipeline/tenants';
import { decodeRecord } from '../shared/records/decode';
import { createSinks, tokenSettingOf } from '../shared/sinks/create-sinks';
import { SinkDefinitions } from '../shared/sinks/sink-settings';
import { SinkError, type ContentRef, type Sink } from '../shared/sinks/sink';
import { createTenantTokens } from '../shared/sinks/tenant-token';
import { recordingTelemetry } from '../shared/telemetry';
import { startReceiver, type Receiver } from './support/siem-receiver';

const tenantA = '7c9e6679-7425-40de-944b-e07fc1f90ae7';
const tenantB = '3e1a9b42-f5fb-49f0-ad1b-05d97491bc66';
const now = new Date().toISOString();
const row = (extra: Record<string, unknown>) => ({ tenantId: tenantA, displayName: 'A', cloud: 'Enterprise', contentTypes: ['Audit.General'], state: 'active', added: now, changed: now, ...extra });

describe('registry row sinkTokens', () => {
  it('takes references only, for the tenant\'s own sinks when it names any; none by default', () => {
    assert.deepEqual(TenantRecord.parse(row({})).sinkTokens, {});
    assert.deepEqual(TenantRecord.parse(row({ sinkTokens: { siem: 'CUSTOMER_A_TOKEN', hec: 'https://kv1.vault.azure.net/secrets/a-hec' } })).sinkTokens.siem, 'CUSTOMER_A_TOKEN');
    const inline = TenantRecord.safeParse(row({ sinkTokens: { siem: 'an inline token value!' } }));
    assert.equal(inline.success, false);
    assert.ok(!JSON.stringify(inline.error?.issues).includes('an inline token value!'), 'the value is not echoed');
    const elsewhere = TenantRecord.safeParse(row({ sinks: ['siem'], sinkTokens: { hec: 'HEC_A' } }));
    assert.match(elsewhere.error?.issues[0]?.message ?? '', /sink hec is not one of the tenant's sinks \(siem\)/);
  });
});

describe('a tenant\'s own token at the HTTP sinks', () => {
  const ownToken = randomBytes(18).toString('base64url');
  const vault = new Map<string, string>([['TENANT_A_SIEM', randomBytes(18).toString('base64url')]]);
  const firstA = vault.get('TENANT_A_SIEM')!;
  let json: Receiver;
  let hec: Receiver;
  const lines: string[] = [];
  const logger = createLogger({ level: 'debug', write: (line) => void lines.push(line) });
  const telemetry = recordingTelemetry();
  const settings: Record<string, string> = { SIEM_TOKEN: ownToken, HEC_TOKEN: ownToken };
  let sinks: ReturnType<typeof createSinks>;
  const tokens = createTenantTokens({
    resolver: { resolve: async (ref) => vault.get(ref) ?? Promise.reject(new Error(`secret reference ${ref}: Key Vault answered HTTP 404`)) },
    logger,
    telemetry,
    graceMs: 0,
  });

  before(async () => {
    const accepted = () => [ownToken, ...vault.values()];
    json = await startReceiver({ protocol: 'json', tokens: accepted });
    hec = await startReceiver({ protocol: 'hec', tokens: accepted });
    sinks = createSinks(
      SinkDefinitions.parse([
        { kind: 'https-json', name: 'siem', url: `${json.url}/ingest`, tokenSetting: 'SIEM_TOKEN', gzip: false, maxAttempts: 1 },
        { kind: 'splunk-hec', name: 'hec', url: hec.url, tokenSetting: 'HEC_TOKEN', gzip: false, maxAttempts: 1 },
        { kind: 'https-json', name: 'open', url: `${json.url}/open`, gzip: false },
      ]),
      { storage: undefined, logger, secret: (name) => settings[name] ?? assert.fail(`${name} not set`) },
    );
  });
  after(async () => {
    await json.close();
    await hec.close();
  });

  const content = (tenantId: string): ContentRef => ({ tenantId, contentType: 'Audit.General', contentId: randomBytes(6).toString('hex'), contentCreated: now });
  async function deliver(sink: Sink, tenantId: string, count = 3): Promise<void> {
    const writer = await sink.open(content(tenantId), { resumeAfter: 0 });
    await writer.write([...Array(count).keys()].map((i) => decodeRecord({ Id: randomBytes(8).toString('hex'), CreationTime: now.slice(0, 19), RecordType: 1, Operation: `op${i}`, OrganizationId: tenantId, UserType: 0, UserId: 'u', Workload: 'Exchange' })));
    await writer.close();
  }
  const sinkNamed = (name: string) => sinks.find((s) => s.name === name)!;
  const lastAuth = (r: Receiver) => r.requests.at(-1)?.headers.authorization;

  it('only token-sending sinks take a tenant token', () => {
    assert.deepEqual(SinkDefinitions.parse([{ kind: 'splunk-hec', name: 'h', url: 'https://h.example', tokenSetting: 'X' }, { kind: 'https-json', name: 'j', url: 'https://j.example' }]).map(tokenSettingOf), ['X', undefined]);
  });

  it('sends the tenant\'s token for its blobs and the sink\'s own for another tenant\'s, at both kinds', async () => {
    for (const [name, receiver, scheme] of [['siem', json, 'Bearer'], ['hec', hec, 'Splunk']] as const) {
      await deliver(tokens.sinkFor(sinkNamed(name), tenantA, 'TENANT_A_SIEM'), tenantA);
      assert.equal(lastAuth(receiver), `${scheme} ${firstA}`, `${name}: tenant A's token`);
      assert.equal(receiver.requests.at(-1)?.outcome, 'accepted');
      await deliver(sinkNamed(name), tenantB);
      assert.equal(lastAuth(receiver), `${scheme} ${ownToken}`, `${name}: the sink's own token for tenant B`);
    }
  });

  it('uses a rotated secret once the resolver returns it, without rebuilding anything by hand', async () => {
    const rotated = randomBytes(18).toString('base64url');
    vault.set('TENANT_A_SIEM', rotated);
    await deliver(tokens.sinkFor(sinkNamed('siem'), tenantA, 'TENANT_A_SIEM'), tenantA);
    assert.equal(lastAuth(json), `Bearer ${rotated}`);
  });

  it('a reference that cannot be read fails that share as a waiting failure, logged once with the reference, counted each time; the others go through', async () => {
    const before = json.requests.length;
    for (let i = 0; i < 2; i++) {
      await assert.rejects(deliver(tokens.sinkFor(sinkNamed('siem'), tenantA, 'https://kv1.vault.azure.net/secrets/missing'), tenantA), (err: unknown) => {
        assert.ok(err instanceof SinkError);
        assert.equal(err.retryable, true);
        assert.equal(err.code, 'SINK_TOKEN_UNRESOLVED');
        assert.match(err.message, /token of tenant 7c9e6679.*secrets\/missing/);
        return true;
      });
      await deliver(sinkNamed('siem'), tenantB); // another tenant's blob, in between
    }
    assert.equal(json.requests.length, before + 2, 'nothing sent without the token; the other tenant\'s blobs went');
    const logged = lines.filter((l) => l.includes('sink token not resolved'));
    assert.equal(logged.length, 1);
    assert.match(logged[0]!, /secrets\/missing/);
    assert.equal(telemetry.total('sinks.tokenUnresolved', { tenantId: tenantA, sink: 'siem' }), 2);
  });

  it('a token for a sink that sends none is a configuration failure of that share', async () => {
    await assert.rejects(deliver(tokens.sinkFor(sinkNamed('open'), tenantA, 'TENANT_A_SIEM'), tenantA), (err: unknown) => err instanceof SinkError && err.code === 'SINK_CONFIGURATION' && !err.retryable);
  });

  it('resolved tokens are redacted from every log line afterwards', () => {
    logger.info('an echo', { detail: `Bearer ${vault.get('TENANT_A_SIEM')} and ${firstA}` });
    assert.ok(!lines.join('\n').includes(vault.get('TENANT_A_SIEM')!));
    assert.ok(!lines.join('\n').includes(firstA));
    assert.match(lines.at(-1)!, /Bearer \[redacted\] and \[redacted\]/);
  });
});
