// One bad event costs only itself: when a destination rejects a batch for good, the batch is taken apart until
// the bad events are isolated, and every good event around them is still delivered in the same pass. Pure
// control flow over index spans; the sink supplies the I/O (send a span, record what was kept or rejected).
//
// How a rejection is taken apart:
// - The destination names the first bad event (Splunk HEC's `invalid-event-number`): the events before it were
//   kept, it is rejected, the rest of the span is sent again. One request per bad event.
// - Otherwise the first bad event is found by halving: the left half is sent; if it is kept, the bad event is in
//   the right half (not sent again: halved further); if not, in the left half (the right half waits for the
//   re-send of the rest). ⌈log₂ n⌉ requests find it, then the rest after it goes as one request. An event only
//   inferred to be bad (its left neighbours were kept) is sent alone once before it is rejected, so a good event
//   never reaches the dead letter on an inference: at most ⌈log₂ n⌉ + 2 requests per bad event.
// - "Too large" (413) says nothing about which event is bad: both halves are sent, nothing is inferred, and only
//   a single event still too large is rejected.
// - When bad events are dense (their search cost has passed the batch size), plain halving is cheaper: from then
//   on both halves are sent, so a batch whose every event is bad costs at most about 3n requests, not n·log₂ n.
// Spans are settled in blob order: `accepted` and `rejected` are called for consecutive, non-overlapping spans
// from the start of the batch, so a sink's progress (events dealt with, in order) moves forward only.

/** Events [start, end) of one batch, by position. */
export interface Span {
  start: number;
  end: number;
}

/** What the destination said about one span, as far as isolation is concerned. */
export type SpanVerdict =
  | { kind: 'accepted' }
  | {
      kind: 'rejected';
      reason: string;
      /** The position in the span of the first bad event, when the destination names it; those before were kept. */
      firstBad?: number | undefined;
      /** Refused for its size, not its data: nothing is learnt about which event is bad. */
      tooLarge?: boolean | undefined;
    };

export interface IsolationIo {
  /** Sends one span; waiting failures and configuration errors throw and end the delivery. */
  send(span: Span): Promise<SpanVerdict>;
  /** The destination kept these events. */
  accepted(span: Span): Promise<void>;
  /** The destination rejected this event for good, with its reason. */
  rejected(index: number, reason: string): Promise<void>;
}

export interface IsolationResult {
  /** Requests sent, the first one included. */
  requests: number;
  /** Events rejected. */
  rejected: number;
}

export function ceilLog2(n: number): number {
  return n <= 1 ? 0 : Math.ceil(Math.log2(n));
}

/** Delivers events [0, size) of one batch: one request when it is accepted, the isolation above when it is not. */
export async function deliverIsolating(size: number, io: IsolationIo): Promise<IsolationResult> {
  const searchCost = ceilLog2(size) + 2;
  let requests = 0;
  let isolated = 0;
  const send = (start: number, end: number) => {
    requests++;
    return io.send({ start, end });
  };
  const reject = async (index: number, reason: string) => {
    isolated++;
    await io.rejected(index, reason);
  };
  const dense = () => isolated * searchCost > size;

  async function deliver(start: number, end: number): Promise<void> {
    await settle(start, end, await send(start, end));
  }

  async function settle(start: number, end: number, verdict: SpanVerdict): Promise<void> {
    if (verdict.kind === 'accepted') return io.accepted({ start, end });
    const named = verdict.firstBad;
    if (named !== undefined && Number.isInteger(named) && named >= 0 && named < end - start) {
      if (named > 0) await io.accepted({ start, end: start + named });
      await reject(start + named, verdict.reason);
      if (start + named + 1 < end) await deliver(start + named + 1, end);
      return;
    }
    if (end - start === 1) return reject(start, verdict.reason);
    if (verdict.tooLarge || dense()) {
      const mid = start + Math.floor((end - start) / 2);
      await deliver(start, mid);
      await deliver(mid, end);
      return;
    }
    await search(start, end, verdict.reason);
  }

  /** [start, end) was rejected for its data: finds its first bad event by sending left halves, then the rest. */
  async function search(start: number, end: number, reason: string): Promise<void> {
    let s = start;
    let e = end;
    let last = reason;
    // Whether [s, e) itself was rejected (true) or only inferred to hold the bad event (its left part was kept).
    let direct = true;
    while (e - s > 1) {
      const mid = s + Math.floor((e - s) / 2);
      const probe = await send(s, mid);
      if (probe.kind === 'accepted') {
        await io.accepted({ start: s, end: mid });
        s = mid;
        direct = false;
      } else if (probe.firstBad !== undefined || probe.tooLarge) {
        // The probe answered in another way (it named its bad event, or found it too large): settle it on its
        // own terms, then the rest as a new span.
        await settle(s, mid, probe);
        if (mid < end) await deliver(mid, end);
        return;
      } else {
        e = mid;
        last = probe.reason;
        direct = true;
      }
    }
    if (direct) await reject(s, last);
    else await settle(s, s + 1, await send(s, s + 1));
    if (s + 1 < end) await deliver(s + 1, end);
  }

  await deliver(0, size);
  return { requests, rejected: isolated };
}
