// Webhook notifications (reference §4): batches of JSON-array notifications POSTed with `Webhook-AuthID`;
// only HTTP 200 counts as delivered; failures are retried after growing delays and, once the schedule is used
// up, the webhook is disabled like the service may do. Every attempt is logged for /subscriptions/notifications.
import type { PagePosition } from './page-token.js';
import type { ContentType, Notification } from './request-shapes.js';
import type { PostOutcome } from './webhook-post.js';

export interface NotificationFaults {
  /** Probability 0..1 that a notification is never sent. */
  dropNotifications: number;
  /** Probability 0..1 that a notification is sent twice. */
  duplicateNotifications: number;
  /** The next N delivery attempts fail without reaching the webhook (then retried as usual). */
  failNotifyAttempts?: number;
}

export interface WebhookTarget {
  address: string;
  authId?: string;
}

export interface DeliveryRecord extends PagePosition {
  tenantId: string;
  notification: Notification;
  notificationStatus: 'success' | 'failed';
}

export interface NotifierOptions {
  batchSize: number;
  /** How long notifications gather before a batch goes out. */
  gatherMs: number;
  /** Delay before retry 1, 2, …; its length bounds the retries. */
  retryDelaysMs: readonly number[];
  now: () => Date;
  random: () => number;
  faults: NotificationFaults;
  /** The subscription's webhook if it should receive notifications right now. */
  target(tenantId: string, contentType: ContentType): WebhookTarget | undefined;
  /** All retries of a batch failed. */
  onExhausted(tenantId: string, contentType: ContentType): void;
  /** Sends (and journals) one POST. */
  post(address: string, headers: Record<string, string>, body: string): Promise<PostOutcome>;
}

export class Notifier {
  readonly deliveries: DeliveryRecord[] = [];
  private readonly queues = new Map<string, { tenantId: string; contentType: ContentType; items: Notification[] }>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private busy = 0;
  private idleWaiters: Array<() => void> = [];
  private closed = false;
  private sequence = 0;

  constructor(private readonly options: NotifierOptions) {}

  enqueue(notification: Notification): void {
    if (this.closed) return;
    const { faults, random } = this.options;
    if (random() < faults.dropNotifications) return;
    const copies = random() < faults.duplicateNotifications ? 2 : 1;
    const key = `${notification.tenantId}\n${notification.contentType}`;
    let queue = this.queues.get(key);
    if (!queue) {
      queue = { tenantId: notification.tenantId, contentType: notification.contentType, items: [] };
      this.queues.set(key, queue);
      this.busy++;
      this.later(this.options.gatherMs, () => {
        this.queues.delete(key);
        const batches: Notification[][] = [];
        for (let i = 0; i < queue!.items.length; i += this.options.batchSize) batches.push(queue!.items.slice(i, i + this.options.batchSize));
        for (const batch of batches) {
          this.busy++;
          void this.attempt(queue!.tenantId, queue!.contentType, batch, 0);
        }
        this.done();
      });
    }
    for (let i = 0; i < copies; i++) queue.items.push(notification);
  }

  /** Resolves once nothing is queued, in flight or waiting for a retry. */
  flush(): Promise<void> {
    if (this.busy === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  close(): void {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.queues.clear();
    this.busy = 0;
    this.wakeIdle();
  }

  private async attempt(tenantId: string, contentType: ContentType, batch: Notification[], attemptIndex: number): Promise<void> {
    const target = this.options.target(tenantId, contentType);
    if (this.closed) return;
    if (!target) return this.done(); // stopped, disabled or expired meanwhile: the service stops sending
    const outcome = await this.send(target, batch);
    if (this.closed) return;
    const ok = 'status' in outcome && outcome.status === 200;
    const sent = this.options.now();
    for (const notification of batch) {
      this.deliveries.push({ tenantId, notification, notificationStatus: ok ? 'success' : 'failed', created: sent, sequence: ++this.sequence });
    }
    if (ok) return this.done();
    const delay = this.options.retryDelaysMs[attemptIndex];
    if (delay === undefined) {
      this.options.onExhausted(tenantId, contentType);
      return this.done();
    }
    this.later(delay, () => void this.attempt(tenantId, contentType, batch, attemptIndex + 1));
  }

  private async send(target: WebhookTarget, batch: Notification[]): Promise<PostOutcome> {
    const headers: Record<string, string> = { 'Content-Type': 'application/json; utf-8' };
    if (target.authId !== undefined) headers['Webhook-AuthID'] = target.authId;
    const faults = this.options.faults;
    if ((faults.failNotifyAttempts ?? 0) > 0) {
      faults.failNotifyAttempts = (faults.failNotifyAttempts ?? 0) - 1;
      return { error: 'fault knob failNotifyAttempts: attempt not sent' };
    }
    return this.options.post(target.address, headers, JSON.stringify(batch));
  }

  private later(ms: number, run: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      run();
    }, ms);
    this.timers.add(timer);
  }

  private done(): void {
    this.busy = Math.max(0, this.busy - 1);
    if (this.busy === 0) this.wakeIdle();
  }

  private wakeIdle(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const wake of waiters) wake();
  }
}
