// The Management Activity API client, in one import. No @azure/functions here: the app and the CLI share it.
export { clouds, cloudNames, CloudName, resolveEndpoints, loopbackOrigin, type Cloud, type Endpoints, type EndpointOverrides } from './clouds.js';
export { contentTypes, ContentType } from './content-types.js';
export { systemClock, type Clock } from './clock.js';
export {
  afCodes,
  clientCodes,
  apiError,
  errorFromAnswer,
  isAfCode,
  isRetryable,
  ManagementApiError,
  ApiConfigurationError,
  ContentExpiredError,
  type AfCode,
  type ClientCode,
  type ErrorCode,
  type ErrorInfo,
  type ErrorKind,
  type ConfigurationProblem,
} from './errors.js';
export { checkContentId, contentIdFromUri, contentUrl, feedRoot, isGuid, nextPageUrl, sameOrigin } from './feed-url.js';
export { formatApiTime, planWindows, isAcceptableWindow, MAX_WINDOW_MS, RETENTION_MS, type Window, type WindowPlan, type WindowPlanOptions } from './windows.js';
export { backoffDelay, defaultRetryPolicy, parseRetryAfter, withRetry, type RetryPolicy, type RetryContext } from './retry.js';
export { createRequestLimiter, DEFAULT_REQUESTS_PER_MINUTE, type RequestLimiter, type LimiterOptions } from './limiter.js';
export { createStartGuard, START_SPACING_MS, type StartGuard } from './start-guard.js';
export { createHttpTransport, readBody, type HttpTransport, type HttpRequest, type HttpAnswer } from './http.js';
export { createCredential, createTokenSource, type CredentialSettings, type TokenSource } from './credentials.js';
export { Secret } from './secret.js';
export { Subscription, SubscriptionList, ContentItem, NotificationItem, WebhookSpec, ErrorBody } from './schemas.js';
export {
  createManagementClient,
  type ManagementClient,
  type ManagementClientOptions,
  type TenantFeed,
  type CallOptions,
  type FetchOptions,
  type ContentBody,
  type StartOutcome,
} from './client.js';
export { classifyListedItem, describeRefused, readableContentId, type Listed, type ListingPosition, type RefusedItem } from './listed-item.js';
export { ensureSubscription, type EnsureOutcome, type EnsureOptions } from './subscriptions.js';
export { createClientFromSettings } from './from-settings.js';
