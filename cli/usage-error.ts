/** A mistake in how the command was called: printed as one line, exit code 1, no stack trace. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}
