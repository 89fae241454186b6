// Trusting the simulator's CA from @azure/identity without NODE_EXTRA_CA_CERTS (which Node reads only at
// start-up). Identity sends its metadata and token requests through an @azure/core-rest-pipeline pipeline
// that honours `additionalPolicies`; a policy can set `request.tlsSettings`, and core-rest-pipeline's Node
// HTTP client builds its https.Agent from exactly those settings (`ca` replaces the default trust store for
// that request only). The settings object is created once: the client caches one agent per settings object.
import type { PipelinePolicy } from '@azure/core-rest-pipeline';

export function trustCaPolicy(caPem: string): PipelinePolicy {
  const tlsSettings = { ca: caPem };
  return {
    name: 'o365SimulatorTrustCa',
    sendRequest(request, next) {
      request.tlsSettings = tlsSettings;
      return next(request);
    },
  };
}

/**
 * Options for ClientSecretCredential / ClientCertificateCredential so they get tokens from the simulator:
 * `new ClientSecretCredential(tenantId, clientId, secret, simulatorCredentialOptions(sim))`.
 */
export function simulatorCredentialOptions(sim: { authorityHost: string; caCertPem: string }) {
  return {
    authorityHost: sim.authorityHost,
    disableInstanceDiscovery: true,
    additionalPolicies: [{ policy: trustCaPolicy(sim.caCertPem), position: 'perCall' as const }],
  };
}
