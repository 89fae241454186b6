// Checks KQL against the declared Application Insights tables with Microsoft's own KQL parser and analyzer, npm
// @kusto/language-service-next (Kusto.Language compiled to JavaScript; offline, no service). It is loaded only
// if installed: `kqlAnalyzer()` is undefined otherwise and the test that needs it says so and skips.
import { appInsightsTables, type KqlType } from './app-insights-schema';

export interface KqlDiagnostic {
  severity: string;
  message: string;
  start: number;
}

/** The few members of the Kusto.Language object model (Bridge.NET classes on globalThis) used here. */
interface KustoLanguage {
  Symbols: {
    ColumnSymbol: new (name: string, type: unknown) => unknown;
    TableSymbol: { $ctor4: new (name: string, columns: unknown[]) => unknown };
    DatabaseSymbol: { $ctor2: new (name: string, alternateName: string | null, members: unknown[]) => unknown };
    ClusterSymbol: new (name: string, databases: unknown[]) => unknown;
    ScalarTypes: Record<'String' | 'DateTime' | 'Real' | 'Int' | 'Long' | 'Dynamic' | 'Bool', unknown>;
  };
  GlobalState: { Default: { WithCluster(cluster: unknown): { WithDatabase(db: unknown): unknown } } };
  KustoCode: {
    ParseAndAnalyze(text: string, globals: unknown): {
      GetDiagnostics(): { Count: number; getItem(i: number): { Severity: string; Message: string; Start: number } };
    };
  };
}

export const kustoPackage = '@kusto/language-service-next';

/** The analyzer, or undefined when the package is not installed. */
export function kqlAnalyzer(): ((query: string) => KqlDiagnostic[]) | undefined {
  let language: KustoLanguage;
  try {
    // Bridge.NET's runtime first: it defines the globals (Bridge, System) the compiled library extends.
    require(`${kustoPackage}/bridge.js`);
    require(kustoPackage);
    language = (globalThis as unknown as { Kusto: { Language: KustoLanguage } }).Kusto.Language;
  } catch (err) {
    if ((err as { code?: string }).code === 'MODULE_NOT_FOUND') return undefined;
    throw err;
  }
  const S = language.Symbols;
  const types: Record<KqlType, unknown> = {
    string: S.ScalarTypes.String,
    datetime: S.ScalarTypes.DateTime,
    real: S.ScalarTypes.Real,
    int: S.ScalarTypes.Int,
    long: S.ScalarTypes.Long,
    dynamic: S.ScalarTypes.Dynamic,
    bool: S.ScalarTypes.Bool,
  };
  const tables = Object.entries(appInsightsTables).map(
    ([table, columns]) => new S.TableSymbol.$ctor4(table, Object.entries(columns).map(([column, type]) => new S.ColumnSymbol(column, types[type]))),
  );
  const database = new S.DatabaseSymbol.$ctor2('appinsights', null, tables);
  const globals = language.GlobalState.Default.WithCluster(new S.ClusterSymbol('appinsights', [database])).WithDatabase(database);
  return (query) => {
    const found = language.KustoCode.ParseAndAnalyze(query, globals).GetDiagnostics();
    const diagnostics: KqlDiagnostic[] = [];
    for (let i = 0; i < found.Count; i++) {
      const d = found.getItem(i);
      diagnostics.push({ severity: d.Severity, message: d.Message, start: d.Start });
    }
    return diagnostics;
  };
}
