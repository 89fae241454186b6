// The simulator's shared state, handed to the route handlers.
import type { AccessTokens } from './access-tokens.js';
import type { ContentStore } from './content-store.js';
import type { FederatedCredential } from './federated-credentials.js';
import type { IssuedIdentityToken } from './managed-identity.js';
import type { Notifier, NotificationFaults } from './notifier.js';
import type { RateBudget } from './rate-budget.js';
import type { Permission } from './request-shapes.js';
import type { SubscriptionBook } from './subscriptions.js';
import type { OmittedWindow } from './time-window.js';
import type { PostOutcome } from './webhook-post.js';

export interface SimulatorApp {
  clientId: string;
  clientSecret?: string;
  certificatePem?: string;
  /** Managed identities the app registration trusts (its federated identity credentials). */
  federatedCredentials?: FederatedCredential[];
}

export interface SimulatorTenant {
  tenantId: string;
  /** Who may get tokens. */
  apps: SimulatorApp[];
  /** Default both; without ActivityFeed.Read the API answers AF10001. */
  permissions?: Permission[];
}

export interface SimulatorFaults extends NotificationFaults {
  /** The next N API requests answer AF429 with this status (403 as documented, or 429). */
  throttle: { remaining: number; status: 403 | 429; retryAfterSeconds?: number };
  /** The next N API requests answer this 5xx status with an AF50000 body. */
  serverErrors: { remaining: number; status: number };
  /** The next N content listings of one stream (tenant × content type) answer this 5xx status with an AF50000 body. */
  listingErrors?: { tenantId: string; contentType: string; remaining: number; status: number } | undefined;
  /** Every API answer waits this long. */
  delayMs: number;
  /** The next N content downloads send a cut body ('cut-json' by default; 'abort' closes the socket mid-body). */
  truncateContent: { remaining: number; mode?: 'cut-json' | 'abort' };
  /** The next N content downloads answer AF20051 (expired) whatever their age. */
  expiredContent: { remaining: number };
  /** Each API request, independently, with these probabilities: AF429 (as 403 or 429, even odds), or a 5xx. */
  chance: { throttle: number; serverError: number };
}

export interface SimulatorContext {
  readonly baseUrl: string;
  readonly manageResource: string;
  readonly pageSize: number;
  readonly startSpacingMinutes: number;
  readonly omittedWindow: OmittedWindow;
  readonly webhookTimeoutMs: number;
  now(): Date;
  random(): number;
  tenants: Map<string, SimulatorTenant>;
  tokens: AccessTokens;
  tokenRequestCounts: Map<string, number>;
  faults: SimulatorFaults;
  subscriptions: SubscriptionBook;
  content: ContentStore;
  notifier: Notifier;
  budget: RateBudget;
  postToWebhook(address: string, headers: Record<string, string>, body: string): Promise<PostOutcome>;
  addSecret(value: string | undefined): void;
  /** A token the managed identity endpoint issued, if `text` is one (undefined when there is no endpoint). */
  identityToken(text: string): IssuedIdentityToken | undefined;
}
