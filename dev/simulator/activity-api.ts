// The Management Activity API routes under /api/v1.0/{tenantId}/activity/feed (reference §2): bearer-token
// checks like the real service, the per-minute budgets, subscriptions, content listing and download, the
// notifications diagnostics listing and the DLP sensitive-type names.
import { randomBytes } from 'node:crypto';
import type { SimulatorContext } from './context.js';
import { apiError, disabledByText, type ApiError } from './errors.js';
import { errorReply, json, jsonType, queryParam, type Incoming, type Reply } from './exchange.js';
import { decodePageToken, encodePageToken, pageFrom, type PagePosition } from './page-token.js';
import { ContentTypeSchema, guidPattern, StartBodySchema, type ContentType, type Permission } from './request-shapes.js';
import { isWellFormedContentId } from './content-id.js';
import { planStart, subscriptionView, type SubscriptionState } from './subscriptions.js';
import { inWindow, resolveWindow, type TimeWindow } from './time-window.js';

const noPublisher = '00000000-0000-0000-0000-000000000000';

interface Caller {
  tenantId: string;
  clientId: string;
  roles: readonly Permission[];
  publisherId: string;
}

type Route = (ctx: SimulatorContext, req: Incoming, caller: Caller, rest: string) => Promise<Reply> | Reply;

// Method names in AF429 messages: GetBlob is the doc's example; the others are made up in the same style.
const routes: Array<{ method: string; pattern: RegExp; name: string; run: Route }> = [
  { method: 'POST', pattern: /^subscriptions\/start$/, name: 'StartSubscription', run: startSubscription },
  { method: 'POST', pattern: /^subscriptions\/stop$/, name: 'StopSubscription', run: stopSubscription },
  { method: 'GET', pattern: /^subscriptions\/list$/, name: 'ListSubscriptions', run: listSubscriptions },
  { method: 'GET', pattern: /^subscriptions\/content$/, name: 'ListContent', run: listContent },
  { method: 'GET', pattern: /^subscriptions\/notifications$/, name: 'ListNotifications', run: listNotifications },
  { method: 'GET', pattern: /^audit\/(.*)$/, name: 'GetBlob', run: getContent },
  { method: 'GET', pattern: /^resources\/dlpSensitiveTypes$/, name: 'GetResources', run: dlpSensitiveTypes },
];

/** ASP.NET Web API's answer for a rejected bearer token; the AF table has no code for it. */
const unauthorized: Reply = json(401, { Message: 'Authorization has been denied for this request.' }, { 'WWW-Authenticate': 'Bearer' });

const randomServerErrorStatuses = [500, 502, 503] as const;

export function isApiPath(path: string): boolean {
  return path.startsWith('/api/');
}

export async function handleApi(ctx: SimulatorContext, req: Incoming): Promise<Reply> {
  const m = /^\/api\/v1\.0\/([^/]+)\/activity\/feed\/(.+)$/.exec(req.path);
  const urlTenant = m?.[1];
  const withTenant = (r: Reply): Reply => (urlTenant === undefined ? r : { ...r, tenantId: urlTenant });
  const { faults } = ctx;

  if (faults.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, faults.delayMs));
  if (faults.serverErrors.remaining > 0) {
    faults.serverErrors.remaining--;
    return withTenant({ ...errorReply(apiError('AF50000')), status: faults.serverErrors.status });
  }
  const publisherParam = queryParam(req, 'PublisherIdentifier');
  const publisherId = publisherParam ?? noPublisher;
  if (!m) return json(404, { Message: `No HTTP resource was found that matches the request URI '${ctx.baseUrl}${req.path}'.` });
  const rest = m[2]!;
  const route = routes.find((r) => r.pattern.test(rest));
  if (!route) return withTenant(json(404, { Message: `No HTTP resource was found that matches the request URI '${ctx.baseUrl}${req.path}'.` }));
  if (faults.throttle.remaining > 0) {
    faults.throttle.remaining--;
    const headers: Record<string, string> = faults.throttle.retryAfterSeconds === undefined ? {} : { 'Retry-After': String(faults.throttle.retryAfterSeconds) };
    return withTenant({ ...errorReply(apiError('AF429', route.name, publisherId), headers), status: faults.throttle.status });
  }
  if (faults.chance.throttle > 0 && ctx.random() < faults.chance.throttle) {
    return withTenant({ ...errorReply(apiError('AF429', route.name, publisherId)), status: ctx.random() < 0.5 ? 403 : 429 });
  }
  if (faults.chance.serverError > 0 && ctx.random() < faults.chance.serverError) {
    return withTenant({ ...errorReply(apiError('AF50000')), status: randomServerErrorStatuses[Math.floor(ctx.random() * randomServerErrorStatuses.length)]! });
  }
  if (route.method !== req.method) return withTenant(json(405, { Message: `The requested resource does not support http method '${req.method}'.` }, { Allow: route.method }));

  const token = ctx.tokens.lookup(req.headers['authorization']);
  if (!token.ok || token.grant.audience !== ctx.manageResource) return withTenant(unauthorized);
  const grant = token.grant;
  if (!guidPattern.test(urlTenant!)) return withTenant(errorReply(apiError('AF20013', urlTenant!)));
  if (urlTenant!.toLowerCase() !== grant.tenantId.toLowerCase()) return withTenant(errorReply(apiError('AF20010', urlTenant!, grant.tenantId)));
  if (!grant.roles.includes('ActivityFeed.Read')) return withTenant(errorReply(apiError('AF10001', grant.roles.join(','))));
  if (publisherParam !== undefined && !guidPattern.test(publisherParam)) return withTenant(errorReply(apiError('AF20002', 'PublisherIdentifier', 'guid')));
  if (!ctx.budget.take(grant.tenantId, publisherParam !== undefined, ctx.now())) {
    return withTenant(errorReply(apiError('AF429', route.name, publisherId)));
  }
  const caller: Caller = { tenantId: grant.tenantId, clientId: grant.clientId, roles: grant.roles, publisherId };
  return withTenant(await route.run(ctx, req, caller, rest));
}

function contentTypeOf(req: Incoming): { ok: true; contentType: ContentType } | { ok: false; error: ApiError } {
  const raw = queryParam(req, 'contentType');
  if (raw === undefined || raw === '') return { ok: false, error: apiError('AF20001', 'contentType') };
  const parsed = ContentTypeSchema.safeParse(raw);
  return parsed.success ? { ok: true, contentType: parsed.data } : { ok: false, error: apiError('AF20020') };
}

/** Listing and fetching need an enabled subscription: none → AF20022, disabled or stopped → AF20023. */
function accessProblem(s: SubscriptionState | undefined): ApiError | undefined {
  if (!s) return apiError('AF20022');
  if (!s.enabled) return apiError('AF20023', disabledByText[s.disabledBy ?? 'stopped']);
  return undefined;
}

async function startSubscription(ctx: SimulatorContext, req: Incoming, caller: Caller): Promise<Reply> {
  const ct = contentTypeOf(req);
  if (!ct.ok) return errorReply(ct.error);
  let raw: unknown = {};
  const text = req.body.toString('utf8').trim();
  if (text !== '') {
    try {
      raw = JSON.parse(text);
    } catch {
      return errorReply(apiError('AF20002', 'body', 'json'));
    }
  }
  const body = StartBodySchema.safeParse(raw);
  if (!body.success) return { ...errorReply(apiError('AF20002', 'webhook', 'object')), journalBody: raw };
  ctx.addSecret(body.data.webhook?.authId);
  const current = ctx.subscriptions.get(caller.tenantId, ct.contentType);
  const plan = planStart(current, body.data, ctx.now(), { spacingMinutes: ctx.startSpacingMinutes }, caller.publisherId);
  if (!plan.ok) return { ...errorReply(plan.error), journalBody: body.data };

  if (plan.webhook) {
    // The handshake (§3): answer 200 or the subscription is not created/changed.
    const code = randomBytes(24).toString('base64url');
    const headers: Record<string, string> = { 'Content-Type': 'application/json; charset=utf-8', 'Webhook-ValidationCode': code };
    if (plan.webhook.authId !== undefined) headers['Webhook-AuthID'] = plan.webhook.authId;
    const outcome = await ctx.postToWebhook(plan.webhook.address, headers, JSON.stringify({ validationCode: code }));
    if (!('status' in outcome) || outcome.status !== 200) {
      return { ...errorReply(apiError('AF20021', plan.webhook.address, 'The endpoint did not return HTTP 200.')), journalBody: body.data };
    }
  }
  const state: SubscriptionState = { contentType: ct.contentType, enabled: true, webhook: plan.webhook, clientId: caller.clientId, lastStartAt: ctx.now() };
  ctx.subscriptions.set(caller.tenantId, state);
  return { ...json(200, subscriptionView(state, ctx.now())), journalBody: body.data };
}

function stopSubscription(ctx: SimulatorContext, req: Incoming, caller: Caller): Reply {
  const ct = contentTypeOf(req);
  if (!ct.ok) return errorReply(ct.error);
  const current = ctx.subscriptions.get(caller.tenantId, ct.contentType);
  if (!current) return errorReply(apiError('AF20022'));
  ctx.subscriptions.set(caller.tenantId, { ...current, enabled: false, disabledBy: 'stopped' });
  return { status: 200, headers: { 'Content-Length': '0' } };
}

function listSubscriptions(ctx: SimulatorContext, _req: Incoming, caller: Caller): Reply {
  const now = ctx.now();
  return json(200, ctx.subscriptions.list(caller.tenantId).map((s) => subscriptionView(s, now)));
}

interface Listing {
  ok: true;
  contentType: ContentType;
  window: TimeWindow;
  from?: PagePosition;
}

function listingRequest(ctx: SimulatorContext, req: Incoming, caller: Caller): Listing | { ok: false; error: ApiError } {
  const ct = contentTypeOf(req);
  if (!ct.ok) return ct;
  const problem = accessProblem(ctx.subscriptions.get(caller.tenantId, ct.contentType));
  if (problem) return { ok: false, error: problem };
  const resolved = resolveWindow(queryParam(req, 'startTime'), queryParam(req, 'endTime'), ctx.now(), ctx.omittedWindow);
  if (!resolved.ok) return resolved;
  const nextPage = queryParam(req, 'nextPage');
  if (nextPage === undefined) return { ok: true, contentType: ct.contentType, window: resolved.window };
  const from = decodePageToken(nextPage);
  if (!from || !inWindow(resolved.window, from.created)) return { ok: false, error: apiError('AF20031', nextPage) };
  return { ok: true, contentType: ct.contentType, window: resolved.window, from };
}

/** NextPageUri: the full URL with the caller's own parameters (verbatim, minus PublisherIdentifier) plus nextPage. */
function nextPageUri(ctx: SimulatorContext, req: Incoming, next: PagePosition): string {
  const kept = req.rawQuery
    .split('&')
    .filter((part) => part !== '' && !/^(nextPage|PublisherIdentifier)(=|$)/i.test(part));
  return `${ctx.baseUrl}${req.path}?${[...kept, `nextPage=${encodePageToken(next)}`].join('&')}`;
}

function listContent(ctx: SimulatorContext, req: Incoming, caller: Caller): Reply {
  const listing = listingRequest(ctx, req, caller);
  if (!listing.ok) return errorReply(listing.error);
  const failing = ctx.faults.listingErrors;
  if (failing !== undefined && failing.remaining > 0 && failing.tenantId === caller.tenantId && failing.contentType === listing.contentType) {
    failing.remaining--;
    return { ...errorReply(apiError('AF50000')), status: failing.status };
  }
  const all = ctx.content.listing(caller.tenantId, listing.contentType, listing.window);
  const page = pageFrom(all, listing.from, ctx.pageSize);
  // Spliced as text: an injected item may be nested deeper than JSON.stringify goes.
  const body = `[${page.items.map((entry) => entry.jsonText).join(',')}]`;
  return { status: 200, headers: { 'Content-Type': jsonType, ...(page.next ? { NextPageUri: nextPageUri(ctx, req, page.next) } : {}) }, body };
}

function listNotifications(ctx: SimulatorContext, req: Incoming, caller: Caller): Reply {
  const listing = listingRequest(ctx, req, caller);
  if (!listing.ok) return errorReply(listing.error);
  // Filtered on notificationSent: this listing is about deliveries, not about content.
  const all = ctx.notifier.deliveries.filter(
    (d) => d.tenantId === caller.tenantId && d.notification.contentType === listing.contentType && inWindow(listing.window, d.created),
  );
  const page = pageFrom(all, listing.from, ctx.pageSize);
  const items = page.items.map((d) => {
    const { tenantId: _t, clientId: _c, ...content } = d.notification;
    return { ...content, notificationSent: d.created.toISOString(), notificationStatus: d.notificationStatus };
  });
  return json(200, items, page.next ? { NextPageUri: nextPageUri(ctx, req, page.next) } : {});
}

function getContent(ctx: SimulatorContext, _req: Incoming, caller: Caller, rest: string): Reply {
  const contentId = rest.slice('audit/'.length);
  if (!isWellFormedContentId(contentId)) return errorReply(apiError('AF20052', contentId));
  const blob = ctx.content.get(caller.tenantId, contentId);
  if (!blob) return errorReply(apiError('AF20050', contentId));
  const problem = accessProblem(ctx.subscriptions.get(caller.tenantId, blob.contentType));
  if (problem) return errorReply(problem);
  const { faults } = ctx;
  const forcedExpiry = faults.expiredContent.remaining > 0;
  if (forcedExpiry) faults.expiredContent.remaining--;
  if (forcedExpiry || ctx.now().getTime() > blob.expiration.getTime()) return errorReply(apiError('AF20051', contentId));
  const reply: Reply = { status: 200, headers: { 'Content-Type': jsonType }, body: blob.body };
  if (faults.truncateContent.remaining > 0) {
    faults.truncateContent.remaining--;
    reply.truncate = faults.truncateContent.mode ?? 'cut-json';
  }
  return reply;
}

const dlpSensitiveTypeNames = [{ id: '50842eb7-edc8-4019-85dd-5a5c1f2bb085', name: 'Credit Card Number' }];

function dlpSensitiveTypes(_ctx: SimulatorContext, req: Incoming): Reply {
  const language = req.headers['accept-language'];
  if (language !== undefined) {
    if (language.includes(',')) return errorReply(apiError('AF20053'));
    if (!/^[A-Za-z]{1,8}(-[A-Za-z0-9]{1,8})*$/.test(language.trim())) return errorReply(apiError('AF20054'));
  }
  return json(200, dlpSensitiveTypeNames);
}
