// A fake Key Vault over real HTTPS for local-stack tests: GET /secrets/{name}?api-version=7.4 with a bearer token
// -> {"value": ...} (Key Vault REST "Get Secret"). The caller decides which tokens it takes (the simulator's tokens
// for the vault's audience); secrets can be set or rotated while the app runs. Records every request.
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { ServerPki } from '../../dev/simulator/certificates';

export interface FakeKeyVault {
  /** https://127.0.0.1:<port>: what O365_KEYVAULT_URL_OVERRIDE points at. */
  origin: string;
  secrets: Map<string, string>;
  requests: Array<{ path: string; authorization: string | undefined; status: number }>;
  close(): Promise<void>;
}

export async function startFakeKeyVault(options: { pki: ServerPki; authorized: (authorization: string | undefined) => boolean }): Promise<FakeKeyVault> {
  const secrets = new Map<string, string>();
  const requests: FakeKeyVault['requests'] = [];
  const server = createServer({ cert: options.pki.serverCertPem, key: options.pki.serverKeyPem }, (req, res) => {
    const url = new URL(req.url ?? '/', 'https://vault');
    const answer = (status: number, body: unknown) => {
      requests.push({ path: url.pathname, authorization: req.headers.authorization, status });
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    };
    if (!options.authorized(req.headers.authorization)) return answer(401, { error: { code: 'Unauthorized' } });
    if (req.method !== 'GET' || url.searchParams.get('api-version') !== '7.4') return answer(400, { error: { code: 'BadParameter' } });
    const name = /^\/secrets\/([A-Za-z0-9-]{1,127})$/.exec(url.pathname)?.[1];
    const value = name === undefined ? undefined : secrets.get(name);
    if (value === undefined) return answer(404, { error: { code: 'SecretNotFound', message: `A secret with (name/id) ${name ?? '?'} was not found in this key vault.` } });
    answer(200, { value, id: `https://relay-kv.vault.azure.net/secrets/${name}/0123456789abcdef0123456789abcdef`, attributes: { enabled: true } });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    origin: `https://127.0.0.1:${(server.address() as AddressInfo).port}`,
    secrets,
    requests,
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/** The claims of a JWT-shaped token (the simulator's are unsigned): enough to check whom it was issued to. */
export function tokenClaims(authorization: string | undefined): Record<string, unknown> | undefined {
  const payload = /^Bearer [^.]+\.([^.]+)\./.exec(authorization ?? '')?.[1];
  if (payload === undefined) return undefined;
  try {
    return JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}
