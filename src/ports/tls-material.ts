// Checks the certificate authority, client certificate and client key a connection will use before the first
// request, so that a bad one is reported by name ("the client-certificate-data of user admin is not a PEM
// certificate") instead of by OpenSSL ("PEM routines::no start line") halfway through a request.
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { createSecureContext } from 'node:tls';
import { ConfigError } from '../core/errors.ts';
import { describeSystemError } from '../core/system-errors.ts';

/** One piece of TLS material: where it was configured (for messages), whether a flag gave it, and how to read it. */
export interface Material {
  where: string;
  fromFlag: boolean;
  read(): Buffer;
}

/**
 * The fix for bad material: material from the kubeconfig is fixed there or overridden by the flag; material the
 * flag gave is replaced by the right file (telling the user to pass the flag they passed would send them in circles).
 */
function fixFor(m: Material, flag: string, needs: string): string {
  return m.fromFlag ? `pass ${flag} ${needs}` : `fix it in the kubeconfig or pass ${flag} ${needs}`;
}

export function checkTlsMaterial(m: { ca?: Material | undefined; cert?: Material | undefined; key?: Material | undefined }): void {
  const ca = m.ca && load(m.ca);
  if (m.ca && ca) {
    const blocks = pemBlocks(ca, 'CERTIFICATE');
    if (blocks.length === 0 || !blocks.every(parsesAsCertificate)) throw new ConfigError(`${m.ca.where} is not a PEM-encoded certificate (-----BEGIN CERTIFICATE-----); ${fixFor(m.ca, '--certificate-authority', "the cluster's CA certificate (on a kubeadm node /etc/kubernetes/pki/ca.crt)")}`);
  }
  const cert = m.cert && load(m.cert);
  if (m.cert && cert && !parsesAsCertificate(cert)) {
    throw new ConfigError(`${m.cert.where} is not a PEM-encoded certificate (-----BEGIN CERTIFICATE-----); ${fixFor(m.cert, '--client-certificate', 'a client certificate file')}`);
  }
  const key = m.key && load(m.key);
  if (m.key && key) {
    try {
      createPrivateKey(key);
    } catch {
      throw new ConfigError(`${m.key.where} is not a PEM-encoded private key (-----BEGIN ... PRIVATE KEY-----); ${fixFor(m.key, '--client-key', "the client certificate's private key file")}`);
    }
  }
  if ((cert === undefined) !== (key === undefined)) {
    const [has, lacks] = cert ? [m.cert!, 'client key'] : [m.key!, 'client certificate'];
    throw new ConfigError(`${has.where} is set but no ${lacks}; set both (--client-certificate and --client-key) or neither`);
  }
  if (cert && key) {
    try {
      createSecureContext({ cert, key });
    } catch {
      throw new ConfigError(`the client key (${m.key!.where}) does not belong to the client certificate (${m.cert!.where}); use the key made with that certificate`);
    }
  }
}

function load(m: Material): Buffer {
  try {
    return m.read();
  } catch (err) {
    throw new ConfigError(`cannot read ${m.where}: ${describeSystemError(err)}`, { cause: err });
  }
}

function pemBlocks(buf: Buffer, label: string): string[] {
  return buf.toString('latin1').match(new RegExp(`-----BEGIN ${label}-----[^-]+-----END ${label}-----`, 'g')) ?? [];
}

function parsesAsCertificate(pem: string | Buffer): boolean {
  try {
    new X509Certificate(pem);
    return true;
  } catch {
    return false;
  }
}
