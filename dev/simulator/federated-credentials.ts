// Entra's side of a federated sign-in (workload identity federation with a managed identity as the external
// identity): the client assertion is a token the simulator's managed identity endpoint issued, and the app
// registration must hold a federated identity credential whose issuer, subject and audience equal the token's
// claims exactly (case-sensitive; no wildcards), as Microsoft Learn's "Configure an application to trust a managed
// identity" describes. A mismatch answers the AADSTS code Entra uses for the claim that did not match.

export interface FederatedCredential {
  /** `https://<login host>/<tenant of the identity>/v2.0`; here the simulator's origin stands in for the login host. */
  issuer: string;
  /** The managed identity's object (principal) id. */
  subject: string;
  /** One value: api://AzureADTokenExchange, or api://AzureADTokenExchangeUSGov in US Government clouds. */
  audiences: string[];
}

/** The claims of a managed identity token that a federated credential is checked against. */
export interface PresentedToken {
  issuer: string;
  subject: string;
  audience: string;
}

export type FederatedMatch = { ok: true } | { ok: false; aadsts: 700211 | 700212 | 700213; description: string };

const checkHint = 'Please check your federated identity credential Subject, Audience and Issuer against the presented assertion.';

/** Which credential matches, claim by claim in Entra's order (issuer, then subject, then audience). */
export function matchFederatedCredential(token: PresentedToken, credentials: readonly FederatedCredential[]): FederatedMatch {
  const byIssuer = credentials.filter((c) => c.issuer === token.issuer);
  if (byIssuer.length === 0) {
    return { ok: false, aadsts: 700211, description: `No matching federated identity record found for presented assertion issuer '${token.issuer}'. ${checkHint}` };
  }
  const bySubject = byIssuer.filter((c) => c.subject === token.subject);
  if (bySubject.length === 0) {
    return { ok: false, aadsts: 700213, description: `No matching federated identity record found for presented assertion subject '${token.subject}'. ${checkHint}` };
  }
  if (!bySubject.some((c) => c.audiences.includes(token.audience))) {
    return { ok: false, aadsts: 700212, description: `No matching federated identity record found for presented assertion audience '${token.audience}'. ${checkHint}` };
  }
  return { ok: true };
}
