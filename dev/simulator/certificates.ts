// Throwaway test PKI made with the machine's `openssl`: a CA and a server certificate for 127.0.0.1/localhost,
// and self-signed client certificates for ClientCertificateCredential tests. Keys live only in a temp dir
// that the caller removes; nothing here is ever a real credential.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

async function openssl(cwd: string, args: string[]): Promise<void> {
  await run('openssl', args, { cwd });
}

export interface ServerPki {
  dir: string;
  caCertPem: string;
  caCertPath: string;
  serverCertPem: string;
  serverKeyPem: string;
  remove(): Promise<void>;
}

/** A fresh CA and a server certificate for IP 127.0.0.1 and DNS localhost, valid for two days. */
export async function createServerPki(): Promise<ServerPki> {
  const dir = await mkdtemp(path.join(tmpdir(), 'o365-sim-pki-'));
  try {
    const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
    await openssl(dir, [
      'req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=o365 simulator throwaway test CA',
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
    ]);
    await openssl(dir, ['req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost']);
    await writeFile(
      path.join(dir, 'server.ext'),
      'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n',
    );
    await openssl(dir, [
      'x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial',
      '-out', 'server.pem', '-days', '2', '-extfile', 'server.ext',
    ]);
    // The CA key has done its job; do not leave it lying around while the simulator runs.
    await rm(path.join(dir, 'ca.key'));
    const [caCertPem, serverCertPem, serverKeyPem] = await Promise.all(
      ['ca.pem', 'server.pem', 'server.key'].map((f) => readFile(path.join(dir, f), 'utf8')),
    );
    await rm(path.join(dir, 'server.key'));
    return {
      dir,
      caCertPem: caCertPem!,
      caCertPath: path.join(dir, 'ca.pem'),
      serverCertPem: serverCertPem!,
      serverKeyPem: serverKeyPem!,
      remove: () => rm(dir, { recursive: true, force: true }),
    };
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

export interface ClientCertificate {
  /** The public certificate to register with a simulator app (`certificatePem`). */
  certificatePem: string;
  privateKeyPem: string;
  /** Key and certificate in one PEM, the form ClientCertificateCredential's `{ certificate }` takes. */
  combinedPem: string;
}

/** A self-signed RSA certificate (MSAL signs assertions with RS256/PS256, so it must be RSA). */
export async function createClientCertificate(commonName = 'o365 simulator test app'): Promise<ClientCertificate> {
  const dir = await mkdtemp(path.join(tmpdir(), 'o365-sim-client-'));
  try {
    await openssl(dir, [
      'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'client.key', '-out', 'client.pem', '-days', '2', '-subj', `/CN=${commonName}`,
    ]);
    const [certificatePem, privateKeyPem] = await Promise.all([readFile(path.join(dir, 'client.pem'), 'utf8'), readFile(path.join(dir, 'client.key'), 'utf8')]);
    return { certificatePem, privateKeyPem, combinedPem: privateKeyPem + certificatePem };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
