// Public face of the local Office 365 Management Activity API simulator (dev only, never deployed).
export { startSimulator, startSimulator as createSimulator, defaultFaults } from './simulator.js';
export type { Simulator, SimulatorOptions, SimulatorSubscription, PublishOptions } from './simulator.js';
export type { SimulatorTenant, SimulatorApp, SimulatorFaults } from './context.js';
export type { JournalEntry } from './journal.js';
export type { FederatedCredential } from './federated-credentials.js';
export type { SimulatorManagedIdentity } from './managed-identity.js';
export type { ContentType, PublishedContent, Notification, Permission } from './request-shapes.js';
export { contentTypes } from './request-shapes.js';
export { trustCaPolicy, simulatorCredentialOptions } from './trust.js';
export { simulatorClientSettings, type SimulatorClient } from './client-settings.js';
export { createClientCertificate, type ClientCertificate } from './certificates.js';
export { generateRecords } from './generated-records.js';
export { errorTable, apiError, type ErrorCode } from './errors.js';
