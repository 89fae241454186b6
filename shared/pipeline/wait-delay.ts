// How long a waiting blob sleeps before its next try: exponential in the number of waits so far, with jitter,
// and never past its content expiry (minus a margin to still fetch it).

export const waitBaseMs = 30_000;
export const waitCapMs = 60 * 60_000;
const expiryMarginMs = 10 * 60_000;

export function waitDelay(waits: number, random: () => number, msUntilExpiry: number): number {
  // Callers parse times with parseApiTime; a NaN here would still become a NaN visibility timeout, so refuse it.
  if (Number.isNaN(msUntilExpiry)) throw new RangeError('waitDelay: the time until expiry is not a number');
  const exponential = Math.min(waitCapMs, waitBaseMs * 2 ** Math.min(waits, 20));
  const jittered = exponential / 2 + random() * (exponential / 2);
  return Math.max(1000, Math.min(jittered, msUntilExpiry - expiryMarginMs));
}
