// The Entra side: OpenID metadata and the client-credentials token endpoint that @azure/identity's
// ClientSecretCredential / ClientCertificateCredential talk to (GET metadata, then POST the token form).
// Errors use Entra's shape {error, error_description, error_codes} with the matching AADSTS codes.
import { createHash, timingSafeEqual } from 'node:crypto';
import { verifyClientAssertion } from './client-assertion.js';
import { matchFederatedCredential } from './federated-credentials.js';
import type { SimulatorContext } from './context.js';
import { json, type Incoming, type Reply } from './exchange.js';
import { PermissionSchema, TokenFormSchema } from './request-shapes.js';

const jwtBearer = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

function entraError(status: number, error: string, aadsts: number, description: string, tenantId: string): Reply {
  return {
    ...json(status, {
      error,
      error_description: `AADSTS${aadsts}: ${description}`,
      error_codes: [aadsts],
      timestamp: new Date().toISOString().replace('T', ' ').slice(0, 19) + 'Z',
      trace_id: '00000000-0000-0000-0000-000000000000',
      correlation_id: '00000000-0000-0000-0000-000000000000',
    }),
    tenantId,
  };
}

function sameSecret(a: string, b: string): boolean {
  return timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest());
}

export function tokenEndpointUrl(ctx: SimulatorContext, tenantId: string, version: 'v1' | 'v2'): string {
  return version === 'v2' ? `${ctx.baseUrl}/${tenantId}/oauth2/v2.0/token` : `${ctx.baseUrl}/${tenantId}/oauth2/token`;
}

/** Answers authority routes; undefined when the path is not one of them. */
export function handleAuthority(ctx: SimulatorContext, req: Incoming): Reply | undefined {
  const metadata = /^\/([^/]+)(\/v2\.0)?\/\.well-known\/openid-configuration$/.exec(req.path);
  if (metadata && req.method === 'GET') {
    const tenantId = metadata[1]!;
    if (!ctx.tenants.has(tenantId)) return entraError(400, 'invalid_tenant', 90002, `Tenant '${tenantId}' not found.`, tenantId);
    const v2 = metadata[2] !== undefined;
    const root = `${ctx.baseUrl}/${tenantId}`;
    return {
      ...json(200, {
        token_endpoint: tokenEndpointUrl(ctx, tenantId, v2 ? 'v2' : 'v1'),
        token_endpoint_auth_methods_supported: ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
        jwks_uri: `${ctx.baseUrl}/${tenantId}/discovery/${v2 ? 'v2.0/' : ''}keys`,
        response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
        subject_types_supported: ['pairwise'],
        id_token_signing_alg_values_supported: ['RS256'],
        issuer: v2 ? `${root}/v2.0` : `${ctx.baseUrl}/${tenantId}/`,
        authorization_endpoint: `${root}/oauth2/${v2 ? 'v2.0/' : ''}authorize`,
        end_session_endpoint: `${root}/oauth2/${v2 ? 'v2.0/' : ''}logout`,
        tenant_region_scope: 'NA',
        cloud_instance_name: 'simulator.local',
      }),
      tenantId,
    };
  }
  const token = /^\/([^/]+)\/oauth2\/(v2\.0\/)?token$/.exec(req.path);
  if (token && req.method === 'POST') return issueToken(ctx, req, token[1]!, token[2] !== undefined ? 'v2' : 'v1');
  return undefined;
}

function issueToken(ctx: SimulatorContext, req: Incoming, tenantId: string, version: 'v1' | 'v2'): Reply {
  ctx.tokenRequestCounts.set(tenantId, (ctx.tokenRequestCounts.get(tenantId) ?? 0) + 1);
  const fields = Object.fromEntries(new URLSearchParams(req.body.toString('utf8')));
  // The secret and assertion are recorded (redacted) so tests can see which kind of credential was used.
  const reply = (r: Reply): Reply => ({ ...r, journalBody: fields, tenantId });
  ctx.addSecret(fields['client_secret']);
  ctx.addSecret(fields['client_assertion']);
  if (!(req.headers['content-type'] ?? '').toLowerCase().startsWith('application/x-www-form-urlencoded')) {
    return reply(entraError(400, 'invalid_request', 900144, "The request body must contain the following parameter: 'grant_type'.", tenantId));
  }
  const parsed = TokenFormSchema.safeParse(fields);
  if (!parsed.success) return reply(entraError(400, 'invalid_request', 900144, "The request body must contain the following parameters: 'grant_type', 'client_id'.", tenantId));
  const form = parsed.data;
  if (form.grant_type !== 'client_credentials') {
    return reply(entraError(400, 'unsupported_grant_type', 70003, 'The app requested an unsupported grant type (simulator: client_credentials only).', tenantId));
  }
  const tenant = ctx.tenants.get(tenantId);
  if (!tenant) return reply(entraError(400, 'invalid_request', 90002, `Tenant '${tenantId}' not found.`, tenantId));
  const app = tenant.apps.find((a) => a.clientId === form.client_id);
  if (!app) {
    return reply(entraError(400, 'unauthorized_client', 700016, `Application with identifier '${form.client_id}' was not found in the directory '${tenantId}'.`, tenantId));
  }

  const requested = version === 'v2' ? form.scope : form.resource;
  if (!requested) return reply(entraError(400, 'invalid_request', 900144, `The request body must contain the following parameter: '${version === 'v2' ? 'scope' : 'resource'}'.`, tenantId));
  if (version === 'v2' && !/\/\.default$/.test(requested)) {
    return reply(entraError(400, 'invalid_scope', 1002012, `The provided value for scope ${requested} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier.`, tenantId));
  }
  const audience = (version === 'v2' ? requested.replace(/\/\.default$/, '') : requested).replace(/\/$/, '');

  if (form.client_assertion !== undefined || form.client_assertion_type !== undefined) {
    if (form.client_assertion_type !== jwtBearer || !form.client_assertion) {
      return reply(entraError(400, 'invalid_request', 90110, 'Client assertion type is invalid.', tenantId));
    }
    // A managed identity's token: the app's federated identity credentials decide (issuer, subject, audience).
    const identityToken = ctx.identityToken(form.client_assertion);
    if (identityToken) {
      const match = matchFederatedCredential(identityToken, app.federatedCredentials ?? []);
      if (!match.ok) return reply(entraError(401, 'invalid_client', match.aadsts, match.description, tenantId));
    } else if (!app.certificatePem) {
      return reply(entraError(401, 'invalid_client', 700027, 'Client assertion contains an invalid signature (no certificate registered).', tenantId));
    } else {
      const check = verifyClientAssertion(form.client_assertion, {
        clientId: app.clientId,
        certificatePem: app.certificatePem,
        audiences: [tokenEndpointUrl(ctx, tenantId, 'v2'), tokenEndpointUrl(ctx, tenantId, 'v1')],
        nowSeconds: Math.floor(Date.now() / 1000),
      });
      if (!check.ok) return reply(entraError(401, 'invalid_client', 700027, `Client assertion failed validation: ${check.reason}.`, tenantId));
    }
  } else if (form.client_secret !== undefined) {
    if (!app.clientSecret || !sameSecret(form.client_secret, app.clientSecret)) {
      return reply(entraError(401, 'invalid_client', 7000215, 'Invalid client secret provided.', tenantId));
    }
  } else {
    return reply(entraError(401, 'invalid_client', 7000216, "'client_assertion', 'client_secret' or 'request' is required for the 'client_credentials' grant type.", tenantId));
  }

  const roles = tenant.permissions ?? PermissionSchema.options;
  const issued = ctx.tokens.issue({ tenantId, clientId: app.clientId, audience, roles });
  ctx.addSecret(issued.token);
  return reply(
    json(200, {
      token_type: 'Bearer',
      expires_in: issued.expiresIn,
      ext_expires_in: issued.expiresIn,
      access_token: issued.token,
      ...(version === 'v1' ? { resource: audience, expires_on: String(Math.floor(Date.now() / 1000) + issued.expiresIn) } : {}),
    }, { 'Cache-Control': 'no-store' }),
  );
}
