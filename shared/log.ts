// The one logger: JSON lines on stderr (stdout belongs to command output), with every known secret redacted
// in every form it could be written in, so a token or authId cannot leak through a message or an error.

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  /** A logger that also redacts these values (added as they become known, e.g. a token). */
  withSecrets(secrets: readonly string[]): Logger;
  /**
   * Redacts these values from now on, here and in every logger derived from this one (before or after): for
   * secrets read at run time (a tenant's SIEM token or authId from Key Vault), known only after start-up.
   */
  remember(secrets: readonly string[]): void;
}

const levelRank: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** Every spelling under which a secret could appear in text we write. */
export function secretForms(secret: string): string[] {
  const forms = new Set<string>([
    secret,
    encodeURIComponent(secret),
    JSON.stringify(secret).slice(1, -1),
    Buffer.from(secret, 'utf8').toString('base64'),
    Buffer.from(secret, 'utf8').toString('base64url'),
  ]);
  return [...forms].filter((f) => f.length >= 4);
}

export function redact(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) {
    if (secret.length < 4) continue; // too short to be a real secret and would shred ordinary text
    for (const form of secretForms(secret)) out = out.split(form).join('[redacted]');
  }
  return out;
}

export function errorFields(err: unknown): LogFields {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return { error: err.message, errorName: err.name, ...(code === undefined ? {} : { code }) };
  }
  return { error: String(err) };
}

export interface LoggerOptions {
  level?: LogLevel;
  secrets?: readonly string[];
  write?: (line: string) => void;
  now?: () => Date;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  return loggerWith(options, [...(options.secrets ?? [])], new Set());
}

/** `remembered` is shared by a logger and every one derived from it; `secrets` is this logger's own list. */
function loggerWith(options: LoggerOptions, secrets: readonly string[], remembered: Set<string>): Logger {
  const minimum = levelRank[options.level ?? 'info'];
  const write = options.write ?? ((line: string) => process.stderr.write(line + '\n'));
  const now = options.now ?? (() => new Date());
  const emit = (level: LogLevel, message: string, fields?: LogFields) => {
    if (levelRank[level] < minimum) return;
    const line = JSON.stringify({ time: now().toISOString(), level, message, ...fields });
    write(redact(remembered.size === 0 ? line : redact(line, [...remembered]), secrets));
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    withSecrets: (more) => loggerWith(options, [...secrets, ...more], remembered),
    remember: (more) => {
      for (const secret of more) remembered.add(secret);
    },
  };
}
