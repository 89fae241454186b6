// The queue listener's wait between empty polls, after the extension's RandomizedExponentialBackoffStrategy:
// back to the minimum once a message was seen since the last wait, otherwise roughly doubling (randomized so
// several listeners drift apart) up to host.json `maxPollingInterval`. Pure: randomness is an argument.

export function nextPollingDelay(previousMs: number, foundSinceLastDelay: boolean, minMs: number, maxMs: number, random: () => number): number {
  if (foundSinceLastDelay) return minMs;
  const doubled = previousMs * 2 * (0.8 + 0.4 * random());
  return Math.min(maxMs, Math.max(minMs, Math.round(doubled)));
}
