// The relay in Azure: a Linux Function App (Node 22) on the Flex Consumption plan, or on Elastic Premium where Flex is
// not offered (Azure Government), its storage account (queue o365-content, table relayledger, containers o365-audit /
// o365-dead-letter, plus the deployment package container), Application Insights on a Log Analytics workspace, a
// Key Vault (RBAC, purge protection) holding the webhook authId (and the client secret on the secret path), which
// the app settings reference, and a user-assigned managed identity: the app's one identity for storage, Key Vault,
// the deployment package and, on the secretless path, the federated credential of the app registration. The identity
// gets only the data roles it uses. Deploy into a resource group (see docs/deploy.md):
//   az deployment group create -g <rg> -f infra/main.bicep -p @infra/main.parameters.json
// test/infra-drift.test.ts reads this file: every app setting below must be one the settings schema
// (shared/config.ts) knows, and every setting the schema requires must be set here. Keep each app setting on ONE
// line, inside the "app settings" blocks marked below.
//
// Written without a Bicep compiler at hand: test/infra-check.test.ts (npm test) parses it with the Bicep grammar and
// checks every resource body against the resource type definitions the compiler uses (../shared/tools/bicep-check),
// plus the Flex Consumption plan deprecations.

// ---- where and what ----

@description('Region for every resource (with hostingPlan FlexConsumption it must offer Flex: az functionapp list-flexconsumption-locations).')
param location string = resourceGroup().location

// Flex Consumption is not offered in Azure Government (docs/deploy.md, Government clouds): there the app runs on
// Elastic Premium (EP1, Linux), which is, and which keeps at least one instance warm.
@description('FlexConsumption (FC1, scale to zero) or ElasticPremium (EP1, for clouds and regions without Flex, e.g. Azure Government).')
@allowed([
  'FlexConsumption'
  'ElasticPremium'
])
param hostingPlan string = 'FlexConsumption'

@description('Function App name; also the host name <name>.azurewebsites.net unless Azure assigns a unique default host name.')
@minLength(2)
@maxLength(60)
param appName string = 'o365relay-${uniqueString(resourceGroup().id)}'

@description('Storage account name (3-24 lower-case letters and digits, globally unique).')
@minLength(3)
@maxLength(24)
param storageAccountName string = 'o365relay${uniqueString(resourceGroup().id)}'

@description('Key Vault name (3-24 characters, globally unique). Purge protection is on: a deleted vault keeps its name for 90 days.')
@minLength(3)
@maxLength(24)
param keyVaultName string = 'kv-o365-${uniqueString(resourceGroup().id)}'

@description('Resource id of an existing Log Analytics workspace for Application Insights; empty creates one.')
param logAnalyticsWorkspaceId string = ''

// ---- the Management Activity API ----

@description('Tenant GUID(s) to collect, comma-separated. The first is the publisher (PublisherIdentifier) unless publisherId is set. Empty ONLY with tenantRegistry set (every tenant a registry row); then publisherId is required. The app refuses to start otherwise, naming the setting.')
param tenantIds string

// A table-only deployment (README, Tenants): tenants are onboarded with o365-relay tenants add, without a restart.
// Bicep has no stable assert: the rule "tenantIds empty only with tenantRegistry and publisherId" is the settings
// schema's (shared/settings/api-section.ts), checked against this template by test/infra-drift.test.ts.
@description('Table of the tenant registry in the app\'s storage account (O365_TENANT_REGISTRY, e.g. relaytenants); empty = not set (the registry is then optional, beside tenantIds). Set, tenantIds may be empty and publisherId is required.')
param tenantRegistry string = ''

@description('Application (client) id of the (multi-tenant) app registration with ActivityFeed.Read; O365_CLIENT_ID.')
param clientId string

// federatedCredential (default): no secret anywhere. The app registration trusts the user-assigned identity below as
// a federated identity credential (az ad app federated-credential create with the outputs; docs/deploy.md), and the
// app presents a token of that identity as its client assertion. clientSecret: the secret from Key Vault.
@description('How the app signs in to the Management API: federatedCredential (secretless, the identity below) or clientSecret (Key Vault).')
@allowed([
  'federatedCredential'
  'clientSecret'
])
param signIn string = 'federatedCredential'

@description('Office 365 cloud of the tenants: Enterprise (commercial), GCC, GCCHigh or DoD. Decides the API and sign-in hosts.')
@allowed([
  'Enterprise'
  'GCC'
  'GCCHigh'
  'DoD'
])
param o365Cloud string = 'Enterprise'

@description('Content types to subscribe, comma-separated; empty = all five.')
param contentTypes string = ''

@description('PublisherIdentifier GUID (your own tenant for an in-house tool; an MSP\'s home tenant); empty = the first of tenantIds. Required when tenantIds is empty (table-only deployment).')
param publisherId string = ''

@description('Client secret of the app registration (signIn clientSecret only). Written to Key Vault as o365-client-secret only when given: pass it on the first deployment, then rotate with az keyvault secret set (docs/deploy.md) and leave it empty here.')
@secure()
param clientSecret string = ''

@description('Webhook authId (at least 16 random characters; several comma-separated while rotating, the first is registered). Written to Key Vault as o365-webhook-auth-id only when given, like clientSecret.')
@secure()
param webhookAuthId string = ''

// ---- scale, request budget and memory ----

// The API throttles per tenant at about 2,000 requests/min (management-api.md §7). The app's limiter is SHARED:
// one token bucket per tenant in Table storage (table relaybudget, shared/state/table-budget.ts) that every
// instance and caller (reconciler, content workers, subscription keeper, health refresh, the o365-relay CLI with
// the same storage) takes from, so the budget is set per tenant and never divided by the instance count:
//   O365_REQUESTS_PER_MINUTE = tenantRequestBudgetPerMinute (default 1,800) < 2,000
// The bucket keeps every 60 s window within it, however many instances run; the remaining ~200/min is headroom
// for other tools on the tenant. O365_TENANTS entries may set their own requestsPerMinute (extraAppSettings).
@description('Most instances the app may scale out to (Flex: per-function scaling, the content worker scales up to this; Elastic Premium: the most elastic workers of the plan).')
@minValue(1)
@maxValue(1000)
param maximumInstanceCount int = 4

@description('Requests per minute per tenant that ALL instances and callers together may send (one shared bucket per tenant; the API allows about 2,000).')
@minValue(60)
@maxValue(2000)
param tenantRequestBudgetPerMinute int = 1800

// Memory: host.json has queues.batchSize 4 + newBatchThreshold 2, so one instance works on at most 6 content blobs
// at once. The worker streams each blob (shared/records/decode-stream.ts: one response body chunk plus one batch
// of records at a time, not the whole blob), so a generous 64 MiB working set per in-flight blob gives
// 6 x 64 = 384 MiB, plus roughly 300 MiB for the Functions host and Node itself: under 700 MiB, which leaves more
// than half of a 2,048 MB instance free. 512 MB would leave no margin for a sink that buffers (syslog, HEC), so it
// is not offered. Raising batchSize in host.json means re-doing this sum.
@description('Memory per instance in MB (CPU and network scale with it).')
@allowed([
  2048
  4096
])
param instanceMemoryMB int = 2048

// Heap: the Node worker runs with --max-old-space-size=workerHeapMB (languageWorkers__node__arguments below). Left
// alone, Node sizes the heap from the memory it sees and V8 collects lazily under a large limit: a 100 MB blob
// peaked at 219-242 MB RSS with a 4 GB heap, and at 153-170 MB with any cap from 96 to 1,024 MB (the worker of npm
// run bench:worker under each cap; above ~1.3 GB it climbs again). The cap does not shrink what the worker keeps, so
// it is set for headroom: 6 blobs in flight with 32 MB records each ran out of heap at 192 and passed at 256 and
// 512. It bounds the JavaScript heap only (plus ~48 MB young generation), not Buffers; with the host's ~300 MiB it
// stays well inside a 2,048 MB instance. Custom worker arguments cost the prewarmed worker: a slower cold start
// (docs/deploy.md).
@description('Old-space limit of the Node worker in MB (--max-old-space-size): keeps worker memory predictable.')
@minValue(256)
@maxValue(1024)
param workerHeapMB int = 512

// The keeper warms its own webhook before a start, but with restrictWebhookToServiceTag the front end refuses that
// call (403) and the API's validation POST may meet a cold instance. The keeper starts anyway and retries hourly; one
// always-ready instance makes the handshake reliable at the cost of its baseline (docs/deploy.md, Always ready).
@description('Flex only: always-ready instances for the HTTP group (the webhook): the validation handshake expects 200 "immediately", and a cold start may be too slow. 0 = scale to zero (billed only while running).')
@minValue(0)
@maxValue(10)
param alwaysReadyHttpInstances int = 0

// ---- network and storage access ----

@description('Allow inbound HTTP only from the M365ManagementActivityApiWebhook service tag (plus allowedIpRanges). The health function is then reachable only from those ranges too.')
param restrictWebhookToServiceTag bool = false

@description('Extra CIDR ranges allowed in when restrictWebhookToServiceTag is true (your monitoring, your own address for o365-relay doctor).')
param allowedIpRanges array = []

// 'identity' (default): shared keys off; the host, the queue trigger and the app's own clients
// (shared/state/storage-account.ts) all use AzureWebJobsStorage__blobServiceUri/__queueServiceUri/__tableServiceUri
// (the account's own endpoints, so sovereign clouds work: __accountName assumes the public suffix) with the
// user-assigned identity (__credential + __clientId) and the data roles below. 'connectionString' keeps shared keys on
// and puts the connection string in Key Vault (secret storage-connection), for accounts that must keep key access.
@description('How the app reaches its storage: identity (shared keys off, managed identity) or connectionString (shared keys on, connection string in Key Vault).')
@allowed([
  'identity'
  'connectionString'
])
param storageAccess string = 'identity'

// ---- app behaviour ----

@description('Blob container of the default blob sink.')
param blobContainer string = 'o365-audit'

@description('Format of the default blob sink: line or json.')
@allowed([
  'line'
  'json'
])
param blobFormat string = 'line'

@description('Log level of the app.')
@allowed([
  'debug'
  'info'
  'warn'
  'error'
])
param logLevel string = 'info'

@description('More app settings, e.g. O365_SINKS, O365_FILTER, O365_TENANTS and the Key Vault references the sinks name. This template owns ALL app settings and replaces them on every deployment, so a setting added by hand is lost at the next one: put it here.')
param extraAppSettings object = {}

param tags object = {}

// ---- workbook and alerts (docs/deploy.md, Workbook and alerts) ----

// The workbook is always deployed (it costs nothing until opened). Alert rules need somewhere to send: an action
// group you already have (alertActionGroupId), or one this template creates for an e-mail address (alertEmail);
// with neither, no alert rule is deployed. Each threshold below has a default that means "any" or a lenient bound.
@description('Resource id of an existing action group the alert rules notify. Empty: alertEmail decides.')
param alertActionGroupId string = ''

@description('E-mail address for a new action group (used only when alertActionGroupId is empty). Both empty: no alert rules.')
param alertEmail string = ''

@description('Alert when the relay\'s own delay for a tenant (delivery time minus the blob\'s contentCreated) exceeds this many minutes.')
@minValue(5)
@maxValue(1440)
param alertLagMinutes int = 60

@description('Alert when more than this many content blobs of a tenant expired or listed items were refused in 15 minutes (data loss; 0: any).')
@minValue(0)
param alertDataLossItems int = 0

@description('Alert when more than this many messages sit in the poison queue (0: any).')
@minValue(0)
param alertPoisonMessages int = 0

@description('Alert when more than this many records of a tenant went to the dead letter in 15 minutes (0: any).')
@minValue(0)
param alertDeadLetterRecords int = 0

@description('Alert when more than this many subscriptions (content types) of a tenant are disabled or missing (0: any).')
@minValue(0)
param alertDisabledSubscriptions int = 0

@description('Alert when sign-in or consent failed more than this many times for a tenant in an hour (0: any).')
@minValue(0)
param alertSignInFailures int = 0

@description('Alert when a tenant\'s own SIEM token (registry row sinkTokens) could not be read more than this many times in two hours (0: any).')
@minValue(0)
param alertTokenUnresolved int = 0

@description('Alert when a tenant that had content in the last two days has had none for this many hours.')
@minValue(1)
@maxValue(47)
param alertSilentTenantHours int = 12

@description('Alert when no heartbeat arrived for this many minutes (the heartbeat timer beats every 5).')
@allowed([
  10
  15
  30
  60
])
param alertHeartbeatMissingMinutes int = 15

// ---- derived ----

var flex = hostingPlan == 'FlexConsumption'
var federatedSignIn = signIn == 'federatedCredential'
var identityStorage = storageAccess == 'identity'
var deploymentContainerName = 'app-package'
// Elastic Premium runs from this blob (WEBSITE_RUN_FROM_PACKAGE), read with the identity; Flex names its own blobs.
var premiumPackageBlob = 'relay.zip'
var clientSecretName = 'o365-client-secret'
var webhookAuthIdName = 'o365-webhook-auth-id'
var storageConnectionName = 'storage-connection'
// The managed identity's token for a federated credential: the audience Entra expects in this cloud (US Government
// Entra, where GCC High and DoD app registrations live, has its own), issued by the identity's tenant.
var federatedAudience = contains([
  'GCCHigh'
  'DoD'
], o365Cloud) ? 'api://AzureADTokenExchangeUSGov' : 'api://AzureADTokenExchange'

// Built-in role definition ids.
var roles = {
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
  keyVaultSecretsUser: '4633458b-17de-408a-b874-0445c86b69e6'
}

// ---- identity ----

// The app's only identity. User-assigned because only such an identity can be trusted by an app registration as a
// federated credential (that trust is a Microsoft Graph object, created with az after the deployment, not here: a
// federatedIdentityCredentials child of this identity would be the reverse trust, an outside issuer acting as it).
resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: 'id-${appName}'
  location: location
  tags: tags
}

// ---- storage ----

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: storageAccountName
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: 'Standard_LRS'
  }
  properties: {
    accessTier: 'Hot'
    allowSharedKeyAccess: !identityStorage
    defaultToOAuthAuthentication: true
    allowBlobPublicAccess: false
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: 'Enabled'
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: storage
  name: 'default'
}

// The app package: Flex writes and reads it here itself; on Elastic Premium the publish step uploads relay.zip.
resource deploymentContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: deploymentContainerName
  properties: {
    publicAccess: 'None'
  }
}

// ---- monitoring ----

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' = if (empty(logAnalyticsWorkspaceId)) {
  name: 'log-${appName}'
  location: location
  tags: tags
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: 30
  }
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: 'appi-${appName}'
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: empty(logAnalyticsWorkspaceId) ? workspace.id : logAnalyticsWorkspaceId
  }
}

// The operator's view: a shared workbook on Application Insights (infra/workbook.json: lag, records per sink, data
// loss, poison, throttling, subscriptions and webhook, per tenant and top-N) and log search alert rules, one per
// infra/alerts/*.kql file. test/observability.test.ts keeps their metric and event names in step with the code and
// checks every query with the KQL analyzer.
resource workbook 'Microsoft.Insights/workbooks@2023-06-01' = {
  name: guid(appInsights.id, 'o365-audit-relay-workbook')
  location: location
  tags: tags
  kind: 'shared'
  properties: {
    displayName: 'O365 audit relay (${appName})'
    category: 'workbook'
    version: 'Notebook/1.0'
    // Lower case: the portal lists a workbook under its resource only when sourceId matches the id's case-folded form.
    sourceId: toLower(appInsights.id)
    serializedData: string(union(loadJsonContent('workbook.json'), {
      fallbackResourceIds: [
        appInsights.id
      ]
    }))
  }
}

var alertsOn = !empty(alertActionGroupId) || !empty(alertEmail)
var emailActionGroupName = 'ag-${appName}'

resource emailActionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = if (empty(alertActionGroupId) && !empty(alertEmail)) {
  name: emailActionGroupName
  location: 'Global'
  tags: tags
  properties: {
    groupShortName: 'o365relay'
    enabled: true
    emailReceivers: [
      {
        name: 'relay-operator'
        emailAddress: alertEmail
        useCommonAlertSchema: true
      }
    ]
  }
}

var alertActionGroups = !empty(alertActionGroupId) ? [
  alertActionGroupId
] : [
  resourceId('Microsoft.Insights/actionGroups', emailActionGroupName)
]

// One alert per tenant (the rule splits by the query's tenantId column), so 1,000 tenants are 1,000 alert states.
var perTenant = [
  {
    name: 'tenantId'
    operator: 'Include'
    values: [
      '*'
    ]
  }
]

// The rules as data: what each measures (its query's column), how it is compared, and how often. Event-like rules
// (data loss, dead letters) look at one evaluation period at a time and do not resolve by themselves (each loss is
// worth a look); state-like ones (lag, poison, subscriptions, sign-in, silence, heartbeat) resolve when it clears.
// Every entry has every field; queryRange is the window except where a rule looks further back than it alerts.
var alertRules = [
  {
    name: 'lag'
    title: 'lag over ${alertLagMinutes} min'
    description: 'A tenant\'s content is delivered more than ${alertLagMinutes} minutes after it was created: notifications missing, the queue backed up or the API throttling. See the workbook (Lag, Records and sinks).'
    severity: 2
    query: loadTextContent('alerts/lag.kql')
    measure: 'lagMinutes'
    aggregation: 'Maximum'
    operator: 'GreaterThan'
    threshold: alertLagMinutes
    split: true
    frequency: 'PT5M'
    window: 'PT15M'
    queryRange: 'PT15M'
    autoMitigate: true
  }
  {
    name: 'data-loss'
    title: 'content expired or refused'
    description: 'Content expired before it was fetched (lost for this API), or the API listed items the relay refused to fetch (ledger state refused, raw items in the dead letter). See docs/deploy.md, Workbook and alerts.'
    severity: 1
    query: loadTextContent('alerts/data-loss.kql')
    measure: 'items'
    aggregation: 'Total'
    operator: 'GreaterThan'
    threshold: alertDataLossItems
    split: true
    frequency: 'PT15M'
    window: 'PT15M'
    queryRange: 'PT15M'
    autoMitigate: false
  }
  {
    name: 'poison'
    title: 'poison messages'
    description: 'Messages sit in o365-content-poison: content that failed every attempt. Fix the cause (the log names it), then npx o365-relay replay-poison.'
    severity: 2
    query: loadTextContent('alerts/poison.kql')
    measure: 'poisonMessages'
    aggregation: 'Maximum'
    operator: 'GreaterThan'
    threshold: alertPoisonMessages
    split: false
    frequency: 'PT5M'
    window: 'PT15M'
    queryRange: 'PT15M'
    autoMitigate: true
  }
  {
    name: 'dead-letters'
    title: 'dead letters growing'
    description: 'Records of a tenant went to the o365-dead-letter container: a sink refused them, they were not records, or they belonged to another tenant. The redeliver timer retries sink rejections.'
    severity: 2
    query: loadTextContent('alerts/dead-letters.kql')
    measure: 'records'
    aggregation: 'Total'
    operator: 'GreaterThan'
    threshold: alertDeadLetterRecords
    split: true
    frequency: 'PT15M'
    window: 'PT15M'
    queryRange: 'PT15M'
    autoMitigate: false
  }
  {
    name: 'subscription-disabled'
    title: 'subscription disabled or missing'
    description: 'A tenant\'s subscription is disabled or missing: the API keeps no content for it and data stops. Restart it (o365-relay doctor; O365_RESTART_DISABLED_SUBSCRIPTIONS) after asking why it was disabled.'
    severity: 1
    query: loadTextContent('alerts/subscription-disabled.kql')
    measure: 'streams'
    aggregation: 'Maximum'
    operator: 'GreaterThan'
    threshold: alertDisabledSubscriptions
    split: true
    frequency: 'PT15M'
    window: 'PT1H'
    queryRange: 'PT1H'
    autoMitigate: true
  }
  {
    name: 'sign-in-failing'
    title: 'sign-in or consent failing'
    description: 'Signing in to a tenant or calling the API is refused (consent, permission, credentials, federated credential, tenant id). Nothing is collected for that tenant until fixed: o365-relay doctor names the cause.'
    severity: 1
    query: loadTextContent('alerts/sign-in-failing.kql')
    measure: 'failures'
    aggregation: 'Total'
    operator: 'GreaterThan'
    threshold: alertSignInFailures
    split: true
    frequency: 'PT15M'
    window: 'PT1H'
    queryRange: 'PT1H'
    autoMitigate: true
  }
  // Two hours: a waiting blob is retried at most an hour apart (shared/pipeline/wait-delay.ts), so a token that
  // stays unreadable shows in every window and the alert resolves only when it is readable again.
  {
    name: 'sink-token-unresolved'
    title: 'tenant SIEM token not readable'
    description: 'A tenant\'s own SIEM token (its registry row\'s sinkTokens reference: a setting name or a Key Vault secret URI) cannot be read: that tenant\'s blobs wait at that sink and go to the dead letter at their expiry. The app log names the sink and the reference: fix the secret or the identity\'s Key Vault access, or o365-relay tenants set --no-sink-token.'
    severity: 1
    query: loadTextContent('alerts/sink-token-unresolved.kql')
    measure: 'failures'
    aggregation: 'Total'
    operator: 'GreaterThan'
    threshold: alertTokenUnresolved
    split: true
    frequency: 'PT15M'
    window: 'PT2H'
    queryRange: 'PT2H'
    autoMitigate: true
  }
  {
    name: 'tenant-silent'
    title: 'tenant silent for ${alertSilentTenantHours} h'
    description: 'A tenant that had content in the last two days has had no blob for ${alertSilentTenantHours} hours: check its subscriptions and the heartbeat\'s health (workbook, Subscriptions and webhook). A quiet tenant may simply be quiet.'
    severity: 3
    query: loadTextContent('alerts/tenant-silent.kql')
    measure: 'silentHours'
    aggregation: 'Maximum'
    operator: 'GreaterThanOrEqual'
    threshold: alertSilentTenantHours
    split: true
    frequency: 'PT1H'
    window: 'PT1H'
    queryRange: 'P2D'
    autoMitigate: true
  }
  {
    name: 'heartbeat-missing'
    title: 'heartbeat missing'
    description: 'No heartbeat for ${alertHeartbeatMissingMinutes} minutes: the app is down, cannot start (settings, Key Vault references, storage) or its timers do not fire. Check the Function App\'s log stream and o365-relay doctor.'
    severity: 1
    query: loadTextContent('alerts/heartbeat-missing.kql')
    measure: 'beats'
    aggregation: 'Total'
    operator: 'LessThan'
    threshold: 1
    split: false
    frequency: 'PT5M'
    window: 'PT${alertHeartbeatMissingMinutes}M'
    queryRange: 'PT${alertHeartbeatMissingMinutes}M'
    autoMitigate: true
  }
]

resource alerts 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = [for rule in (alertsOn ? alertRules : []): {
  name: 'alert-${appName}-${rule.name}'
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: 'O365 relay ${appName}: ${rule.title}'
    description: rule.description
    severity: rule.severity
    enabled: true
    scopes: [
      appInsights.id
    ]
    evaluationFrequency: rule.frequency
    windowSize: rule.window
    overrideQueryTimeRange: rule.queryRange
    criteria: {
      allOf: [
        {
          query: rule.query
          timeAggregation: rule.aggregation
          metricMeasureColumn: rule.measure
          dimensions: rule.split ? perTenant : []
          operator: rule.operator
          threshold: rule.threshold
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    autoMitigate: rule.autoMitigate
    actions: {
      actionGroups: alertActionGroups
    }
  }
  dependsOn: [
    emailActionGroup
  ]
}]

// ---- secrets ----

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: keyVaultName
  location: location
  tags: tags
  properties: {
    tenantId: subscription().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 90
    enablePurgeProtection: true
    publicNetworkAccess: 'Enabled'
  }
}

// Written only when a value is given, so a later deployment without it keeps what rotation put there.
resource clientSecretValue 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(clientSecret) && !federatedSignIn) {
  parent: vault
  name: clientSecretName
  properties: {
    value: clientSecret
    contentType: 'Entra app registration client secret (Office 365 Management Activity API)'
  }
}

resource webhookAuthIdValue 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(webhookAuthId)) {
  parent: vault
  name: webhookAuthIdName
  properties: {
    value: webhookAuthId
    contentType: 'Webhook-AuthID value(s), comma-separated while rotating'
  }
}

// Only in the connectionString fallback: the account key never appears in app settings, only its reference.
resource storageConnectionValue 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!identityStorage) {
  parent: vault
  name: storageConnectionName
  properties: {
    value: identityStorage ? '' : 'DefaultEndpointsProtocol=https;AccountName=${storage.name};AccountKey=${storage.listKeys().keys[0].value};EndpointSuffix=${environment().suffixes.storage}'
    contentType: 'Storage connection string (for accounts that must keep shared key access)'
  }
}

// Versionless references: the platform picks up a new secret version (rotation) within 24 hours, or at once on a
// restart or config refresh (docs/deploy.md). The site resolves them with the user-assigned identity
// (keyVaultReferenceIdentity below).
var clientSecretRef = '@Microsoft.KeyVault(SecretUri=${vault.properties.vaultUri}secrets/${clientSecretName}/)'
var webhookAuthIdRef = '@Microsoft.KeyVault(SecretUri=${vault.properties.vaultUri}secrets/${webhookAuthIdName}/)'
var storageConnectionRef = '@Microsoft.KeyVault(SecretUri=${vault.properties.vaultUri}secrets/${storageConnectionName}/)'

// ---- the identity's roles: data roles on the one storage account, secrets read on the one vault ----

// Blob Data Owner: the host keeps its leases and keys in blobs, and the platform reads the deployment package with
// it; the app creates and writes the o365-audit and o365-dead-letter containers.
resource blobRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, identity.id, roles.storageBlobDataOwner)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataOwner)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

// Queue Data Contributor rather than Reader + Message Processor: besides the trigger reading o365-content, the
// webhook and reconciler send to it, the app creates it, and the host creates o365-content-poison.
resource queueRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, identity.id, roles.storageQueueDataContributor)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageQueueDataContributor)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

// Table Data Contributor: the ledger (table relayledger).
resource tableRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, identity.id, roles.storageTableDataContributor)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageTableDataContributor)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

// Key Vault Secrets User: resolves the Key Vault references in the app settings (read only, no list of keys).
resource vaultRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, identity.id, roles.keyVaultSecretsUser)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.keyVaultSecretsUser)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

// ---- compute ----

resource flexPlan 'Microsoft.Web/serverfarms@2024-04-01' = if (flex) {
  name: 'plan-${appName}'
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    reserved: true // Linux
  }
}

resource premiumPlan 'Microsoft.Web/serverfarms@2024-04-01' = if (!flex) {
  name: 'plan-${appName}'
  location: location
  tags: tags
  kind: 'elastic'
  sku: {
    name: 'EP1'
    tier: 'ElasticPremium'
  }
  properties: {
    reserved: true // Linux
    maximumElasticWorkerCount: maximumInstanceCount
  }
}

var serviceTagRule = {
  name: 'M365ManagementActivityApiWebhook'
  description: 'Office 365 Management Activity API webhook notifications'
  action: 'Allow'
  tag: 'ServiceTag'
  ipAddress: 'M365ManagementActivityApiWebhook'
  priority: 100
}
// 'http' names the group of all HTTP-triggered functions (the webhook, health) in per-function scaling.
var alwaysReadyHttp = [
  {
    name: 'http'
    instanceCount: alwaysReadyHttpInstances
  }
]
var ipRangeRules = [for (range, i) in allowedIpRanges: {
  name: 'allowed-${i}'
  action: 'Allow'
  tag: 'Default'
  ipAddress: range
  priority: 200 + i
}]
var userAssigned = {
  type: 'UserAssigned'
  userAssignedIdentities: {
    '${identity.id}': {}
  }
}

// Flex Consumption takes no ftpsState, runtime or worker settings in siteConfig (the plan's deprecations): the
// runtime is functionAppConfig's, and FTP and basic-auth publishing are turned off below instead.
resource flexSite 'Microsoft.Web/sites@2024-04-01' = if (flex) {
  name: appName
  location: location
  tags: tags
  kind: 'functionapp,linux'
  identity: userAssigned
  properties: {
    serverFarmId: flexPlan.id
    httpsOnly: true
    keyVaultReferenceIdentity: identity.id
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storage.properties.primaryEndpoints.blob}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identity.id
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
        alwaysReady: alwaysReadyHttpInstances > 0 ? alwaysReadyHttp : []
      }
      runtime: {
        name: 'node'
        version: '22'
      }
    }
    siteConfig: {
      minTlsVersion: '1.2'
      http20Enabled: true
      ipSecurityRestrictionsDefaultAction: restrictWebhookToServiceTag ? 'Deny' : 'Allow'
      ipSecurityRestrictions: restrictWebhookToServiceTag ? concat([serviceTagRule], ipRangeRules) : []
      // The deployment (SCM) endpoint keeps its own rules, so publishing still works from outside the tag.
      scmIpSecurityRestrictionsUseMain: false
    }
  }
  dependsOn: [
    deploymentContainer
    blobRole
  ]
}

// Elastic Premium: runtime and version in siteConfig and app settings (the classic way), the package from a blob
// read with the identity, and no Azure Files content share (it needs an account key; a package URL does without).
resource premiumSite 'Microsoft.Web/sites@2024-04-01' = if (!flex) {
  name: appName
  location: location
  tags: tags
  kind: 'functionapp,linux'
  identity: userAssigned
  properties: {
    serverFarmId: premiumPlan.id
    httpsOnly: true
    reserved: true
    keyVaultReferenceIdentity: identity.id
    siteConfig: {
      linuxFxVersion: 'Node|22'
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
      ipSecurityRestrictionsDefaultAction: restrictWebhookToServiceTag ? 'Deny' : 'Allow'
      ipSecurityRestrictions: restrictWebhookToServiceTag ? concat([serviceTagRule], ipRangeRules) : []
      scmIpSecurityRestrictionsUseMain: false
    }
  }
  dependsOn: [
    deploymentContainer
  ]
}

// No FTP, no publishing with basic credentials (user name and password) on either plan: publishing signs in with
// Entra ID (az functionapp deployment ... uses your az login).
resource flexFtp 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = if (flex) {
  parent: flexSite
  name: 'ftp'
  properties: {
    allow: false
  }
}

resource flexScm 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = if (flex) {
  parent: flexSite
  name: 'scm'
  properties: {
    allow: false
  }
}

resource premiumFtp 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = if (!flex) {
  parent: premiumSite
  name: 'ftp'
  properties: {
    allow: false
  }
}

resource premiumScm 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = if (!flex) {
  parent: premiumSite
  name: 'scm'
  properties: {
    allow: false
  }
}

// Only the chosen site is read (a conditional expression evaluates one branch).
var defaultHostName = flex ? flexSite.properties.defaultHostName : premiumSite.properties.defaultHostName

// ---- app settings ----
// Flex Consumption rejects FUNCTIONS_WORKER_RUNTIME, FUNCTIONS_EXTENSION_VERSION, WEBSITE_RUN_FROM_PACKAGE and
// WEBSITE_CONTENT* (runtime and package come from functionAppConfig): only premiumPlanSettings has them, and only the
// Elastic Premium site gets it.

// app settings: begin
var relaySettings = {
  APPLICATIONINSIGHTS_CONNECTION_STRING: appInsights.properties.ConnectionString
  O365_TENANT_ID: tenantIds
  O365_TENANT_REGISTRY: tenantRegistry
  O365_CLIENT_ID: clientId
  O365_CLOUD: o365Cloud
  O365_CONTENT_TYPES: contentTypes
  O365_PUBLISHER_ID: publisherId
  O365_REQUESTS_PER_MINUTE: string(tenantRequestBudgetPerMinute)
  O365_WEBHOOK_URL: 'https://${defaultHostName}/api/notifications'
  O365_WEBHOOK_AUTH_ID: webhookAuthIdRef
  O365_BLOB_CONTAINER: blobContainer
  O365_BLOB_FORMAT: blobFormat
  O365_LOG_LEVEL: logLevel
  languageWorkers__node__arguments: '--max-old-space-size=${workerHeapMB}'
}

// Secretless: the app asks the user-assigned identity for a token (audience api://AzureADTokenExchange, or ...USGov)
// and presents it as the client assertion of O365_CLIENT_ID in each tenant.
var federatedSignInSettings = {
  O365_FEDERATED_IDENTITY_CLIENT_ID: identity.properties.clientId
}

var secretSignInSettings = {
  O365_CLIENT_SECRET: clientSecretRef
}

// Identity-based storage for the Functions host and the app's own clients: the account's own endpoints (right in
// every cloud) and the user-assigned identity, which the host uses only with __credential=managedidentity.
var identityStorageSettings = {
  AzureWebJobsStorage__blobServiceUri: storage.properties.primaryEndpoints.blob
  AzureWebJobsStorage__queueServiceUri: storage.properties.primaryEndpoints.queue
  AzureWebJobsStorage__tableServiceUri: storage.properties.primaryEndpoints.table
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identity.properties.clientId
}

// For accounts that must keep shared keys: a connection string, from Key Vault.
var connectionStringStorageSettings = {
  AzureWebJobsStorage: storageConnectionRef
}

// Elastic Premium only (Flex refuses these): runtime, and the package blob read with the user-assigned identity.
var premiumPlanSettings = {
  FUNCTIONS_EXTENSION_VERSION: '~4'
  FUNCTIONS_WORKER_RUNTIME: 'node'
  WEBSITE_RUN_FROM_PACKAGE: '${storage.properties.primaryEndpoints.blob}${deploymentContainerName}/${premiumPackageBlob}'
  WEBSITE_RUN_FROM_PACKAGE_BLOB_MI_RESOURCE_ID: identity.id
}
// app settings: end

var appSettingsValue = union(relaySettings, federatedSignIn ? federatedSignInSettings : secretSignInSettings, identityStorage ? identityStorageSettings : connectionStringStorageSettings, extraAppSettings)

resource flexAppSettings 'Microsoft.Web/sites/config@2024-04-01' = if (flex) {
  parent: flexSite
  name: 'appsettings'
  properties: appSettingsValue
  // The roles first, so the first start can already resolve the Key Vault references and reach storage.
  dependsOn: [
    blobRole
    queueRole
    tableRole
    vaultRole
    clientSecretValue
    webhookAuthIdValue
    storageConnectionValue
  ]
}

resource premiumAppSettings 'Microsoft.Web/sites/config@2024-04-01' = if (!flex) {
  parent: premiumSite
  name: 'appsettings'
  properties: union(appSettingsValue, premiumPlanSettings)
  dependsOn: [
    blobRole
    queueRole
    tableRole
    vaultRole
    clientSecretValue
    webhookAuthIdValue
    storageConnectionValue
  ]
}

output functionAppName string = appName
output hostingPlan string = hostingPlan
output webhookUrl string = 'https://${defaultHostName}/api/notifications'
@description('Object id of the user-assigned identity: principalId for infra/sentinel-table.bicep.')
output principalId string = identity.properties.principalId
@description('Client id of the user-assigned identity: managedIdentityClientId of a Sentinel sink.')
output identityClientId string = identity.properties.clientId
output keyVaultName string = vault.name
output storageAccountName string = storage.name
output requestsPerMinutePerTenant int = tenantRequestBudgetPerMinute
@description('The workbook (Application Insights, Workbooks): lag, records per sink, data loss, subscriptions, per tenant.')
output workbookId string = workbook.id
output alertRuleCount int = alertsOn ? length(alertRules) : 0
@description('Elastic Premium only: upload the app package here (az storage blob upload --auth-mode login).')
output packageBlobUrl string = flex ? '' : '${storage.properties.primaryEndpoints.blob}${deploymentContainerName}/${premiumPackageBlob}'
// What the app registration needs to trust the identity (docs/deploy.md, Secretless sign-in):
//   az ad app federated-credential create --id <clientId> --parameters @federated-credential.json
@description('The federated identity credential for the app registration (az ad app federated-credential create --parameters).')
output federatedCredential object = {
  name: 'o365-audit-relay-${appName}'
  issuer: '${environment().authentication.loginEndpoint}${identity.properties.tenantId}/v2.0'
  subject: identity.properties.principalId
  audiences: [
    federatedAudience
  ]
  description: 'The o365-audit-relay Function App ${appName} (user-assigned identity ${identity.name})'
}
