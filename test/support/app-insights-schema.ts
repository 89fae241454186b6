// The Application Insights tables the workbook and the alert rules query (the classic schema a query scoped to the
// component sees), as the KQL check declares them: a query naming a column not listed here fails the check.
// Columns from the Azure Monitor table reference (customMetrics, customEvents, traces); types in KQL's names.
export type KqlType = 'string' | 'datetime' | 'real' | 'int' | 'long' | 'dynamic' | 'bool';

const common: Record<string, KqlType> = {
  timestamp: 'datetime',
  name: 'string',
  itemType: 'string',
  itemId: 'string',
  customDimensions: 'dynamic',
  operation_Name: 'string',
  operation_Id: 'string',
  operation_ParentId: 'string',
  session_Id: 'string',
  user_Id: 'string',
  client_Type: 'string',
  cloud_RoleName: 'string',
  cloud_RoleInstance: 'string',
  appId: 'string',
  appName: 'string',
  iKey: 'string',
  sdkVersion: 'string',
};

export const appInsightsTables: Record<string, Record<string, KqlType>> = {
  customMetrics: {
    ...common,
    value: 'real',
    valueCount: 'int',
    valueSum: 'real',
    valueMin: 'real',
    valueMax: 'real',
    valueStdDev: 'real',
  },
  customEvents: { ...common, customMeasurements: 'dynamic', itemCount: 'int' },
  traces: { ...common, message: 'string', severityLevel: 'int', customMeasurements: 'dynamic', itemCount: 'int' },
};
