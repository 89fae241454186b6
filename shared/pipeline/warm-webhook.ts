// Before a start with a webhook, the API POSTs a validation request and wants 200 "immediately". A cold
// instance may be too slow, so we call our own validation path first until it answers 200.

export async function warmWebhook(address: string, authId: string, attempts = 5, pauseMs = 2000, timeoutMs = 10_000): Promise<boolean> {
  for (let attempt = 1; attempt <= attempts; attempt++) {
    try {
      const answer = await fetch(address, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'webhook-authid': authId, 'webhook-validationcode': 'relay-warm-up' },
        body: JSON.stringify({ validationCode: 'relay-warm-up' }),
        redirect: 'error',
        signal: AbortSignal.timeout(timeoutMs),
      });
      if (answer.status === 200) return true;
    } catch {
      // not up yet
    }
    if (attempt < attempts) await new Promise((resolve) => setTimeout(resolve, pauseMs));
  }
  return false;
}
