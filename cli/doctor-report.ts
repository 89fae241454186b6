// The doctor's verdicts as data, and their printing: one line per check, the fix on the next line.
export type CheckStatus = 'pass' | 'fail' | 'skip';

export interface CheckResult {
  /** e.g. "settings", "token 3e1a…", "webhook". */
  name: string;
  status: CheckStatus;
  /** What was found (never a secret). */
  detail: string;
  /** One line saying what to change; only for failures. */
  fix?: string | undefined;
}

export function formatReport(results: readonly CheckResult[]): string {
  const width = Math.max(0, ...results.map((r) => r.name.length));
  const lines: string[] = [];
  for (const r of results) {
    lines.push(`${r.status.padEnd(4)}  ${r.name.padEnd(width)}  ${r.detail}`);
    if (r.status === 'fail' && r.fix) lines.push(`${' '.repeat(6 + width)}  fix: ${r.fix}`);
  }
  const failed = results.filter((r) => r.status === 'fail').length;
  const skipped = results.filter((r) => r.status === 'skip').length;
  lines.push(failed === 0 && skipped === 0 ? `all ${results.length} checks passed` : `${failed} failed, ${skipped} skipped, ${results.length - failed - skipped} passed`);
  return lines.join('\n') + '\n';
}

/** 0 only when every check passed: a skipped check is not a healthy one. */
export function exitCodeOf(results: readonly CheckResult[]): number {
  return results.every((r) => r.status === 'pass') ? 0 : 1;
}
