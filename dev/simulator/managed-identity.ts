// The managed identity endpoint as App Service and Azure Functions provide it: plain HTTP on loopback at
// IDENTITY_ENDPOINT, the secret IDENTITY_HEADER sent back as `X-IDENTITY-HEADER`, GET with `api-version=2019-08-01`,
// `resource` and, for a user-assigned identity, `client_id` (what @azure/identity's ManagedIdentityCredential sends
// through MSAL's AppService source). Tokens are JWT-shaped and unsigned like the simulator's access tokens; the
// token endpoint accepts one as a client assertion only if this endpoint issued it (looked up by hash).
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { PresentedToken } from './federated-credentials.js';

export interface SimulatorManagedIdentity {
  /** Tenant the identity lives in (its tokens' issuer names it). */
  tenantId: string;
  /** The identity's object (principal) id: the token's subject. */
  principalId: string;
  /** A user-assigned identity's client id; leave out for the system-assigned identity (asked for without client_id). */
  clientId?: string;
}

export interface IssuedIdentityToken extends PresentedToken {
  expiresAtMs: number;
}

export interface ManagedIdentityEndpoint {
  /** `http://127.0.0.1:<port>/msi/token`: IDENTITY_ENDPOINT. */
  readonly endpoint: string;
  /** IDENTITY_HEADER. */
  readonly header: string;
  /** A token this endpoint issued (and that has not expired), by its text. */
  lookup(token: string): IssuedIdentityToken | undefined;
  /** Requests received: [client_id or 'system', resource, status]. */
  readonly requests: ReadonlyArray<{ clientId: string | undefined; resource: string | undefined; status: number }>;
  close(): Promise<void>;
}

const apiVersion = '2019-08-01';
const lifetimeSeconds = 86_399; // managed identity tokens live about a day

function digest(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export async function startManagedIdentityEndpoint(options: {
  identities: readonly SimulatorManagedIdentity[];
  /** `https://<simulator>/<tenant>/v2.0`: the issuer of a token of an identity in `tenantId`. */
  issuerFor(tenantId: string): string;
  addSecret(value: string): void;
}): Promise<ManagedIdentityEndpoint> {
  const header = randomBytes(24).toString('base64url');
  options.addSecret(header);
  const issued = new Map<string, IssuedIdentityToken>();
  const requests: Array<{ clientId: string | undefined; resource: string | undefined; status: number }> = [];

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const clientId = url.searchParams.get('client_id') ?? undefined;
    const resource = url.searchParams.get('resource') ?? undefined;
    const answer = (status: number, body: unknown) => {
      requests.push({ clientId, resource, status });
      res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8' });
      res.end(JSON.stringify(body));
    };
    const refuse = (status: number, message: string) => answer(status, { statusCode: status, message, correlationId: randomUUID() });
    if (req.method !== 'GET' || url.pathname !== '/msi/token') return refuse(404, 'Not found.');
    if (req.headers['x-identity-header'] !== header) return refuse(401, 'The X-IDENTITY-HEADER header is missing or wrong.');
    if (url.searchParams.get('api-version') !== apiVersion) return refuse(400, `Unsupported api-version; expected ${apiVersion}.`);
    if (!resource) return refuse(400, "The 'resource' parameter is required.");
    for (const other of ['mi_res_id', 'object_id', 'principal_id']) {
      if (url.searchParams.has(other)) return refuse(400, `The simulator identifies user-assigned identities by client_id only (got ${other}).`);
    }
    // Without client_id App Service answers for the system-assigned identity; an id it does not know is refused.
    const identity = options.identities.find((i) => i.clientId === clientId);
    if (!identity) return refuse(400, 'Unable to load the proper Managed Identity.');

    const audience = resource.replace(/\/\.default$/, '');
    const token: IssuedIdentityToken = {
      issuer: options.issuerFor(identity.tenantId),
      subject: identity.principalId,
      audience,
      expiresAtMs: Date.now() + lifetimeSeconds * 1000,
    };
    const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const claims = { aud: audience, iss: token.issuer, sub: token.subject, oid: token.subject, tid: identity.tenantId, exp: Math.floor(token.expiresAtMs / 1000) };
    const text = `${part({ typ: 'JWT', alg: 'none' })}.${part(claims)}.${randomBytes(32).toString('base64url')}`;
    issued.set(digest(text), token);
    options.addSecret(text);
    answer(200, {
      access_token: text,
      expires_on: String(Math.floor(token.expiresAtMs / 1000)),
      resource,
      token_type: 'Bearer',
      client_id: identity.clientId ?? randomUUID(),
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}/msi/token`,
    header,
    lookup(text) {
      const token = issued.get(digest(text));
      return token && token.expiresAtMs > Date.now() ? token : undefined;
    },
    requests,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
