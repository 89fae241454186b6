// The deployable app: an esbuild bundle of functions/index.ts (package.json main points at it). The Functions
// worker provides @azure/functions-core at run time, so it stays external.
// The Application Insights SDK is most of the code and is used only with APPLICATIONINSIGHTS_CONNECTION_STRING
// set, so it is a second file, bundle/app-insights.js, that the main bundle imports on demand: a cold start
// without telemetry never reads or compiles it.
const path = require('node:path');
const esbuild = require('esbuild');

const root = path.join(__dirname, '..');
const common = {
  bundle: true,
  platform: 'node',
  target: 'node22',
  format: 'cjs',
  sourcemap: true,
  external: ['@azure/functions-core'],
  logLevel: 'warning',
};

/** `import('applicationinsights')` in the main bundle becomes `import('./app-insights.js')`, next to it. */
const sdkOnDemand = {
  name: 'app-insights-on-demand',
  setup(build) {
    build.onResolve({ filter: /^applicationinsights$/ }, () => ({ path: './app-insights.js', external: true }));
  },
};

(async () => {
  await esbuild.build({
    ...common,
    entryPoints: [path.join(root, 'functions', 'index.ts')],
    outfile: path.join(root, 'bundle', 'main.js'),
    plugins: [sdkOnDemand],
  });
  // The SDK's own module.exports, unchanged, so its live `defaultClient` is what the importer reads.
  await esbuild.build({
    ...common,
    stdin: { contents: "module.exports = require('applicationinsights');", resolveDir: root, sourcefile: 'app-insights-entry.js', loader: 'js' },
    outfile: path.join(root, 'bundle', 'app-insights.js'),
  });
})().catch((err) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
