// A timer trigger: fires at each occurrence of its schedule (UTC), once at start with `runOnStartup`, and on
// demand (`fire`, for tests and the dev CLI). With a `lock`, a scheduled occurrence fires on one host only. The handler gets the Timer object the host sends
// (`{ Schedule, ScheduleStatus, IsPastDue }`, camelCased by @azure/functions). No schedule monitor: a missed
// occurrence is not replayed, so `isPastDue` is always false here.
import type { Logger } from '../../shared/log';
import { errorFields } from '../../shared/log';
import type { InvocationRequest } from './invocation';
import { nextOccurrence, parseSchedule, type Schedule } from './ncrontab';

/** setTimeout's ceiling; longer waits are re-armed. */
const MAX_TIMEOUT_MS = 2 ** 31 - 1;

export interface TimerTriggerOptions {
  functionName: string;
  triggerBindingName: string;
  schedule: string;
  runOnStartup: boolean;
  run(request: InvocationRequest): Promise<void>;
  /** The singleton lock (timer-lock.ts): a scheduled occurrence fires only where it answers true. */
  lock?: { claim(): Promise<boolean> } | undefined;
  logger: Logger;
}

export function timerInvocation(triggerBindingName: string, last: Date, next: Date | undefined, now: Date): InvocationRequest {
  const timer = {
    Schedule: { AdjustForDST: true },
    ScheduleStatus: { Last: last.toISOString(), Next: (next ?? now).toISOString(), LastUpdated: now.toISOString() },
    IsPastDue: false,
  };
  return { inputData: [{ name: triggerBindingName, data: { json: JSON.stringify(timer) } }] };
}

export class TimerTrigger {
  readonly #o: TimerTriggerOptions;
  readonly #schedule: Schedule;
  #timer: NodeJS.Timeout | undefined;
  #last = new Date();
  #stopped = false;

  constructor(options: TimerTriggerOptions) {
    this.#o = options;
    this.#schedule = parseSchedule(options.schedule); // an invalid schedule stops the host from starting, as in Azure
  }

  start(): void {
    if (this.#o.runOnStartup) this.#fireLogged();
    this.#arm();
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
  }

  /** Runs the function now; rejects if the invocation failed. */
  async fire(): Promise<void> {
    const now = new Date();
    const request = timerInvocation(this.#o.triggerBindingName, this.#last, nextOccurrence(this.#schedule, now), now);
    this.#last = now;
    await this.#o.run(request);
  }

  #fireLogged(): void {
    this.fire().catch((err: unknown) => this.#o.logger.debug('timer invocation failed', { function: this.#o.functionName, ...errorFields(err) }));
  }

  /** A scheduled occurrence: fired by the one host that holds the timer's lock (manual `fire` ignores the lock). */
  #fireScheduled(): void {
    const lock = this.#o.lock;
    if (!lock) return this.#fireLogged();
    lock.claim().then((held) => {
      if (held && !this.#stopped) this.#fireLogged();
    }, (err: unknown) => this.#o.logger.warn('timer lock failed', { function: this.#o.functionName, ...errorFields(err) }));
  }

  #arm(after?: Date): void {
    if (this.#stopped) return;
    const now = Date.now();
    // Never before the occurrence just handled: a timer may fire a hair early.
    const next = nextOccurrence(this.#schedule, new Date(Math.max(now, after?.getTime() ?? 0)));
    if (!next) {
      this.#o.logger.warn('timer schedule has no future occurrence', { function: this.#o.functionName, schedule: this.#o.schedule });
      return;
    }
    const wait = next.getTime() - now;
    this.#timer = setTimeout(() => {
      if (wait <= MAX_TIMEOUT_MS) this.#fireScheduled();
      this.#arm(wait <= MAX_TIMEOUT_MS ? next : undefined);
    }, Math.min(wait, MAX_TIMEOUT_MS));
    this.#timer.unref();
  }
}
