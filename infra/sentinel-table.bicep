// The Sentinel sink's destination: the custom table O365AuditRelay_CL in an existing Log Analytics workspace (the
// one Microsoft Sentinel is enabled on), a data collection endpoint, a data collection rule whose stream declares
// the same columns and passes rows through unchanged (transform `source`), and "Monitoring Metrics Publisher" on
// the rule for the Function App's identity. Deploy into the workspace's resource group:
//   az deployment group create -g <rg> -f infra/sentinel-table.bicep -p workspaceName=<ws> principalId=<app identity object id>
// The column list must stay identical to shared/sinks/sentinel-table.ts (test/sink-sentinel.test.ts compares them).
// Outputs give the sink's settings: endpoint, ruleId (the DCR immutable id) and streamName.

@description('Name of the existing Log Analytics workspace (with Microsoft Sentinel) in this resource group.')
param workspaceName string

@description('Object (principal) id of the identity the relay signs in with: the principalId output of infra/main.bicep (its user-assigned identity).')
param principalId string

@description('Type of that principal.')
@allowed([
  'ServicePrincipal'
  'User'
  'Group'
])
param principalType string = 'ServicePrincipal'

@description('Region of the DCE and DCR; empty = the workspace\'s region, where they must be (the resource group may be elsewhere).')
param location string = ''

@description('Name of the data collection endpoint.')
param dataCollectionEndpointName string = 'dce-o365-audit-relay'

@description('Name of the data collection rule.')
param dataCollectionRuleName string = 'dcr-o365-audit-relay'

// The table type takes 4..730 days; 0 leaves the property out, so the table follows the workspace's retention.
@description('Interactive retention of the table in days (4-730); 0 = the workspace default.')
@minValue(0)
@maxValue(730)
param retentionInDays int = 0

var tableName = 'O365AuditRelay_CL'
var streamName = 'Custom-${tableName}'

// Monitoring Metrics Publisher: the built-in role that may send data to a DCR through the Logs Ingestion API.
var monitoringMetricsPublisherRoleId = '3913510d-42f4-4e42-8a64-420c390055eb'

// One column list for the stream declaration and the table (keep in step with sentinel-table.ts).
var columns = [
  {
    name: 'TimeGenerated'
    type: 'datetime'
    description: 'CreationTime of the record (UTC); the content blob time when the record has none'
  }
  {
    name: 'CreationTime'
    type: 'datetime'
    description: 'CreationTime as the record gives it, converted to UTC'
  }
  {
    name: 'RecordId'
    type: 'string'
    description: 'The record Id (unique per record; duplicates share it)'
  }
  {
    name: 'OrganizationId'
    type: 'string'
    description: 'The Office 365 tenant of the record'
  }
  {
    name: 'ContentType'
    type: 'string'
    description: 'Management Activity API content type'
  }
  {
    name: 'ContentId'
    type: 'string'
    description: 'The content blob the record came in'
  }
  {
    name: 'Workload'
    type: 'string'
    description: 'Workload (Exchange, SharePoint, AzureActiveDirectory, ...)'
  }
  {
    name: 'Operation'
    type: 'string'
    description: 'Operation name'
  }
  {
    name: 'RecordType'
    type: 'int'
    description: 'RecordType number'
  }
  {
    name: 'RecordTypeName'
    type: 'string'
    description: 'RecordType name'
  }
  {
    name: 'UserType'
    type: 'int'
    description: 'UserType number'
  }
  {
    name: 'UserTypeName'
    type: 'string'
    description: 'UserType label'
  }
  {
    name: 'UserId'
    type: 'string'
    description: 'UserId'
  }
  {
    name: 'ClientIP'
    type: 'string'
    description: 'Client address without port (as written when it is not an address)'
  }
  {
    name: 'ResultStatus'
    type: 'string'
    description: 'ResultStatus'
  }
  {
    name: 'Line'
    type: 'string'
    description: 'The readable one-line form of the record'
  }
  {
    name: 'Fields'
    type: 'dynamic'
    description: 'The other fields of the record, name/value lists flattened'
  }
  {
    name: 'Raw'
    type: 'dynamic'
    description: 'The record exactly as received'
  }
  {
    name: 'SchemaErrors'
    type: 'dynamic'
    description: 'Fields that did not fit their schema (absent when none)'
  }
  {
    name: 'Truncated'
    type: 'dynamic'
    description: 'Columns left out or shortened to fit the field size limit'
  }
]

resource workspace 'Microsoft.OperationalInsights/workspaces@2022-10-01' existing = {
  name: workspaceName
}

var region = empty(location) ? workspace.location : location

resource table 'Microsoft.OperationalInsights/workspaces/tables@2022-10-01' = {
  parent: workspace
  name: tableName
  properties: union({
    plan: 'Analytics'
    schema: {
      name: tableName
      // Tables spell the date type dateTime; stream declarations spell it datetime.
      columns: [for c in columns: {
        name: c.name
        type: c.type == 'datetime' ? 'dateTime' : c.type
        description: c.description
      }]
    }
  }, retentionInDays == 0 ? {} : {
    retentionInDays: retentionInDays
  })
}

resource dce 'Microsoft.Insights/dataCollectionEndpoints@2023-03-11' = {
  name: dataCollectionEndpointName
  location: region
  properties: {
    networkAcls: {
      publicNetworkAccess: 'Enabled'
    }
  }
}

resource dcr 'Microsoft.Insights/dataCollectionRules@2023-03-11' = {
  name: dataCollectionRuleName
  location: region
  properties: {
    dataCollectionEndpointId: dce.id
    streamDeclarations: {
      '${streamName}': {
        columns: [for c in columns: {
          name: c.name
          type: c.type
        }]
      }
    }
    destinations: {
      logAnalytics: [
        {
          name: 'sentinelWorkspace'
          workspaceResourceId: workspace.id
        }
      ]
    }
    dataFlows: [
      {
        streams: [
          streamName
        ]
        destinations: [
          'sentinelWorkspace'
        ]
        transformKql: 'source'
        outputStream: streamName
      }
    ]
  }
  dependsOn: [
    table
  ]
}

resource publisher 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(dcr.id, principalId, monitoringMetricsPublisherRoleId)
  scope: dcr
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', monitoringMetricsPublisherRoleId)
    principalId: principalId
    principalType: principalType
  }
}

@description('The sink setting endpoint: the DCE logs ingestion URL.')
output endpoint string = dce.properties.logsIngestion.endpoint

@description('The sink setting ruleId: the DCR immutable id.')
output ruleId string = dcr.properties.immutableId

@description('The sink setting streamName.')
output streamName string = streamName
