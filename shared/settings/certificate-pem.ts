// O365_CLIENT_CERTIFICATE_PEM: a private key and its certificate as PEM text, as Key Vault returns the secret of a
// certificate whose policy has content type application/x-pem-file (a Key Vault reference in Azure; Flex
// Consumption cannot load certificates into the app with WEBSITE_LOAD_CERTIFICATES). What is wrong is said without
// the value: it holds the private key.
import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';

const certificateBlock = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/;
const privateKeyBlock = /-----BEGIN (RSA |EC )?PRIVATE KEY-----[\s\S]+?-----END (RSA |EC )?PRIVATE KEY-----/;

/** Why the text cannot sign Entra client assertions, or undefined when it can. */
export function certificatePemProblem(text: string): string | undefined {
  if (!text.includes('-----BEGIN')) {
    return looksLikePfx(text)
      ? 'looks like a PFX (base64 PKCS#12, what Key Vault returns for content type application/x-pkcs12): give the Key Vault certificate the content type application/x-pem-file, or use O365_CLIENT_CERTIFICATE_PATH'
      : 'is not PEM text (a private key and a certificate, each between -----BEGIN and -----END lines)';
  }
  if (text.includes('-----BEGIN ENCRYPTED PRIVATE KEY-----')) return 'holds an encrypted private key; it must be unencrypted (as Key Vault returns it)';
  const key = privateKeyBlock.exec(text)?.[0];
  const certificate = certificateBlock.exec(text)?.[0];
  if (!key) return 'holds no private key (-----BEGIN PRIVATE KEY-----): the secret of a Key Vault certificate has one when its key is exportable';
  if (!certificate) return 'holds no certificate (-----BEGIN CERTIFICATE-----)';
  try {
    const privateKey = createPrivateKey(key);
    const publicKey = new X509Certificate(certificate).publicKey;
    // Entra client assertions are signed RS256/PS256 by @azure/identity (MSAL): an EC key cannot sign them.
    if (privateKey.asymmetricKeyType !== 'rsa') return `holds a ${privateKey.asymmetricKeyType ?? 'non-RSA'} key; the certificate must have an RSA key`;
    const spki = (k: typeof publicKey) => k.export({ format: 'der', type: 'spki' });
    if (!spki(publicKey).equals(spki(createPublicKey(privateKey)))) return 'holds a private key that does not belong to its (first) certificate';
  } catch {
    return 'holds a private key or certificate that cannot be read';
  }
  return undefined;
}

/** Base64 of DER (an ASN.1 SEQUENCE, as PKCS#12 is): what Key Vault gives for a certificate's secret by default. */
function looksLikePfx(text: string): boolean {
  const compact = text.replace(/\s+/g, '');
  return /^[A-Za-z0-9+/]+={0,2}$/.test(compact) && Buffer.from(compact, 'base64')[0] === 0x30;
}
