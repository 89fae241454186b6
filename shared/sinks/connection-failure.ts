// Socket and TLS failures that say a sink's configuration is wrong — an unknown host, a certificate the configured
// trust does not accept, a handshake the receiver refused: waiting cannot help, a person must act. One rule for
// every sink that opens its own connections (syslog, HTTPS JSON, Splunk HEC).

const configurationCodes: ReadonlySet<string> = new Set([
  'ENOTFOUND',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_SIGNATURE_FAILURE',
  'CERT_REVOKED',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'INVALID_CA',
  'HOSTNAME_MISMATCH',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** TLS alerts and protocol failures (wrong port, client certificate refused) are configuration too. */
export function isConfigurationFailure(code: string): boolean {
  return configurationCodes.has(code) || code.startsWith('ERR_SSL_');
}

/** The Node error code of a failure, or of the failure that caused it. */
export function failureCode(err: unknown): string | undefined {
  for (let e = err, depth = 0; e !== null && typeof e === 'object' && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
  }
  return undefined;
}
