// node dist/bench/cold-start.bench.js: how long the app takes to load in a fresh process — the deployed bundle
// (bundle/main.js, Application Insights left in bundle/app-insights.js until a connection string asks for it)
// against the same app unbundled (dist/functions/index.js with node_modules), each the median of several fresh
// processes, alternated in the same run. Target: the bundle in ≤ 0.5x the unbundled time. Also the bundle with a
// connection string set, and the on-demand SDK file's own load, for scale. Run `npm run build` first.
import { execFile } from 'node:child_process';
import { statSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const repoRoot = path.join(__dirname, '..', '..');
const runs = Number(process.env.BENCH_RUNS ?? 9);

/** Child script: the worker's `@azure/functions-core`, then `require(file)` timed from inside the process. */
const probe = (file: string) => `
const { installCoreModule } = require(${JSON.stringify(path.join(repoRoot, 'dist', 'dev', 'host', 'core-module.js'))});
installCoreModule();
const t0 = performance.now();
require(${JSON.stringify(file)});
process.stdout.write(String(performance.now() - t0));
`;

async function loadMs(file: string, env: Record<string, string> = {}): Promise<number> {
  const { stdout } = await run(process.execPath, ['-e', probe(file)], { cwd: repoRoot, env: { PATH: process.env.PATH ?? '', ...env } });
  return Number(stdout);
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

async function main(): Promise<void> {
  const variants = {
    bundle: path.join(repoRoot, 'bundle', 'main.js'),
    unbundled: path.join(repoRoot, 'dist', 'functions', 'index.js'),
    sdkFile: path.join(repoRoot, 'bundle', 'app-insights.js'),
  };
  const times: Record<keyof typeof variants, number[]> = { bundle: [], unbundled: [], sdkFile: [] };
  await loadMs(variants.unbundled); // one unmeasured run: the file system cache, not the app, would be measured first
  for (let i = 0; i < runs; i++) {
    // Alternated, so a noisy neighbour slows both alike.
    for (const name of ['bundle', 'unbundled', 'sdkFile'] as const) times[name].push(await loadMs(variants[name]));
  }
  const mb = (file: string) => (statSync(file).size / 1024 / 1024).toFixed(1);
  const b = median(times.bundle);
  const u = median(times.unbundled);
  const line = (label: string, ms: number, extra = '') => process.stdout.write(`  ${label.padEnd(44)} ${ms.toFixed(0).padStart(5)} ms${extra}\n`);
  process.stdout.write(`cold start: load time of the app in a fresh process (median of ${runs} each, alternated)\n`);
  line(`bundle/main.js (${mb(variants.bundle)} MB)`, b, `  = ${(b / u).toFixed(2)}x the unbundled load (target ≤ 0.5x${b / u <= 0.5 ? ', met' : ', MISSED'})`);
  line('dist/functions/index.js + node_modules', u);
  line(`bundle/app-insights.js (${mb(variants.sdkFile)} MB), on demand only`, median(times.sdkFile));
  process.stdout.write(`  samples (ms): bundle ${times.bundle.map((t) => t.toFixed(0)).join(' ')} | unbundled ${times.unbundled.map((t) => t.toFixed(0)).join(' ')}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
