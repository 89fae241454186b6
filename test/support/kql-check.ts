// Checks KQL against the declared Application Insights tables with Microsoft's own KQL parser and analyzer, npm
// @kusto/language-service-next (Kusto.Language compiled to JavaScript; offline, no service), a pinned dev dependency.
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

/** The analyzer over the declared tables. */
export function kqlAnalyzer(): (query: string) => KqlDiagnostic[] {
  // Bridge.NET's runtime first: it defines the globals (Bridge, System) the compiled library extends.
  require(`${kustoPackage}/bridge.js`);
  require(kustoPackage);
  const language = (globalThis as unknown as { Kusto: { Language: KustoLanguage } }).Kusto.Language;
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
