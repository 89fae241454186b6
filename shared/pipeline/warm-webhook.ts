// Before a start with a webhook, the API POSTs a validation request and wants 200 "immediately". A cold instance
// may be too slow, so we call our own validation path first. The call can only help: whatever it gets, the start
// goes ahead. Behind an inbound restriction (only the API's service tag allowed) our own call is refused by the
// front end with 403 before it reaches any instance, which says nothing about whether one is warm.

export type WarmUp =
  /** Our validation path answered 200: an instance is up. */
  | { state: 'warm' }
  /** 403: the front end's access restriction refused our own address; the API's senders are not refused. */
  | { state: 'refused'; status: 403 }
  /** Another 4xx: an instance answered (so it is up), but not with 200, e.g. 401 for an authId it does not know. */
  | { state: 'answered'; status: number }
  /** No answer, or 5xx (starting, or not there), on every attempt. */
  | { state: 'silent'; detail: string };

/** What one answer means; undefined: not up yet, try again. */
function verdict(status: number): WarmUp | undefined {
  if (status === 200) return { state: 'warm' };
  if (status === 403) return { state: 'refused', status };
  if (status >= 400 && status < 500) return { state: 'answered', status };
  return undefined;
}

export async function warmUpWebhook(address: string, authId: string, attempts = 5, pauseMs = 2000, timeoutMs = 10_000): Promise<WarmUp> {
  let detail = 'no attempt';
  for (let attempt = 1; attempt <= attempts; attempt++) {
    try {
      const answer = await fetch(address, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'webhook-authid': authId, 'webhook-validationcode': 'relay-warm-up' },
        body: JSON.stringify({ validationCode: 'relay-warm-up' }),
        redirect: 'error',
        signal: AbortSignal.timeout(timeoutMs),
      });
      await answer.body?.cancel();
      const known = verdict(answer.status);
      if (known) return known;
      detail = `HTTP ${answer.status}`;
    } catch (err) {
      detail = err instanceof Error ? err.name : 'no answer'; // never the message: it may hold the address's query
    }
    if (attempt < attempts) await new Promise((resolve) => setTimeout(resolve, pauseMs));
  }
  return { state: 'silent', detail };
}

/** True when our validation path answered 200 (o365-relay doctor's question). */
export async function warmWebhook(address: string, authId: string, attempts = 5, pauseMs = 2000, timeoutMs = 10_000): Promise<boolean> {
  return (await warmUpWebhook(address, authId, attempts, pauseMs, timeoutMs)).state === 'warm';
}
