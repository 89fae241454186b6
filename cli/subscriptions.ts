// o365-relay subscriptions list | start | stop [--tenant ID ...] [--content-type T ...] [--webhook URL --auth-id ID]
import { WebhookSpec } from '../shared/api/schemas';
import { chosenContentTypes, chosenTenants, openApiSession } from './api-session';
import { parseCommandLine } from './command-line';
import { UsageError } from './usage-error';

export const subscriptionsUsage = `usage: o365-relay subscriptions list|start|stop [--tenant ID ...] [--content-type T ...] [--webhook URL [--auth-id ID]]
  Lists, starts or stops the feed subscriptions of the configured tenants (settings: see README). The webhook
  authId is a secret and is shown as [redacted].`;

export async function runSubscriptions(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommand(argv);
  const action = positionals[0];
  if (values.help) {
    process.stdout.write(subscriptionsUsage + '\n');
    return 0;
  }
  if (action !== 'list' && action !== 'start' && action !== 'stop') throw new UsageError(`expected list, start or stop\n${subscriptionsUsage}`);
  let webhook: WebhookSpec | undefined;
  if (values.webhook !== undefined) {
    const parsed = WebhookSpec.safeParse({ address: values.webhook, authId: values['auth-id'] });
    if (!parsed.success) throw new UsageError(`--webhook: ${parsed.error.issues.map((i) => i.message).join('; ')}`);
    webhook = parsed.data;
  } else if (values['auth-id'] !== undefined) throw new UsageError('--auth-id needs --webhook');

  const session = openApiSession();
  let failures = 0;
  try {
    const tenants = chosenTenants(values.tenant, await session.tenantIds());
    const types = chosenContentTypes(values['content-type'], session.settings.contentTypes);
    for (const tenantId of tenants) {
      const feed = session.client.tenant(tenantId);
      if (action === 'list') {
        for (const s of await feed.listSubscriptions({ signal: session.signal })) {
          const hook = s.webhook ? ` webhook=${s.webhook.status ?? '?'} ${s.webhook.address ?? ''}${s.webhook.authId ? ' authId=[redacted]' : ''}` : ' webhook=none';
          process.stdout.write(`${tenantId} ${s.contentType} ${s.status ?? 'unknown'}${hook}\n`);
        }
        continue;
      }
      for (const contentType of types) {
        try {
          if (action === 'start') {
            const result = await feed.startSubscription(contentType, webhook, { signal: session.signal });
            process.stdout.write(`${tenantId} ${contentType} ${result.outcome}\n`);
          } else {
            await feed.stopSubscription(contentType, { signal: session.signal });
            process.stdout.write(`${tenantId} ${contentType} stopped\n`);
          }
        } catch (err) {
          failures++;
          process.stderr.write(`${tenantId} ${contentType}: ${(err as Error).message}\n`);
        }
      }
    }
  } finally {
    session.close();
  }
  return failures > 0 ? 1 : 0;
}

function parseCommand(argv: string[]) {
  return parseCommandLine({
    args: argv,
    allowPositionals: true,
    options: {
      tenant: { type: 'string', multiple: true, default: [] },
      'content-type': { type: 'string', multiple: true, default: [] },
      webhook: { type: 'string' },
      'auth-id': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
}
