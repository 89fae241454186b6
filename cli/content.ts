// o365-relay content list --since 2h [--until T] [--tenant ID ...] [--content-type T ...] [--json]
import { describeRefused } from '../shared/api/listed-item';
import { chosenContentTypes, chosenTenants, openApiSession } from './api-session';
import { parseTimeArg } from './time-arg';
import { parseCommandLine } from './command-line';
import { UsageError } from './usage-error';

export const contentUsage = `usage: o365-relay content list --since 2h [--until TIME] [--tenant ID ...] [--content-type T ...] [--json]
  Lists the content blobs the API has available (by contentCreated), every window and page.
  A listed item the relay would refuse (another origin or tenant, a contentUri naming another contentId, an
  unreadable field or time) is reported on stderr with its reason and the others are listed: exit status 2.`;

export async function runContent(argv: string[]): Promise<number> {
  const parsed = parseCommandLine({
    args: argv,
    allowPositionals: true,
    options: {
      since: { type: 'string' },
      until: { type: 'string' },
      tenant: { type: 'string', multiple: true, default: [] },
      'content-type': { type: 'string', multiple: true, default: [] },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(contentUsage + '\n');
    return 0;
  }
  if (positionals[0] !== 'list') throw new UsageError(`expected content list\n${contentUsage}`);
  if (values.since === undefined) throw new UsageError('--since is required (e.g. --since 2h)');
  const now = new Date();
  const since = parseTimeArg(values.since, '--since', now);
  const until = values.until === undefined ? now : parseTimeArg(values.until, '--until', now);

  const session = openApiSession();
  let refused = 0;
  try {
    const types = chosenContentTypes(values['content-type'], session.settings.contentTypes);
    for (const tenantId of chosenTenants(values.tenant, await session.tenantIds())) {
      const feed = session.client.tenant(tenantId);
      for (const contentType of types) {
        for await (const listed of feed.listContentRange(contentType, { since, until }, { signal: session.signal })) {
          if (listed.kind === 'refused') {
            refused++;
            process.stderr.write(`${tenantId} ${contentType}: ${describeRefused(listed.refused)}\n`);
            continue;
          }
          const { item } = listed;
          process.stdout.write(
            values.json
              ? JSON.stringify({ tenantId, ...item }) + '\n'
              : `${item.contentCreated} ${tenantId} ${item.contentType} ${item.contentId} expires ${item.contentExpiration}\n`,
          );
        }
      }
    }
  } finally {
    session.close();
  }
  if (refused > 0) process.stderr.write(`content: ${refused} listed item(s) refused (not listed above)\n`);
  // 2: the good items were listed, but the API listed something the relay will not fetch.
  return refused > 0 ? 2 : 0;
}
