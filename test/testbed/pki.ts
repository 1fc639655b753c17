// A throwaway CA and one certificate per service account, made with openssl at `up` time in the
// run directory (never in the repository). Workload certificates carry the SPIFFE ID as their only
// URI SAN, like Istio's; the two public names (the shop's ingress and the bank) get DNS SANs.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PODS, spiffeId, workloadCertName } from './definitions.js';
import { run } from './exec.js';
import { PKI_DIR, pkiFile } from './paths.js';

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

const issue = (name: string, subject: string, san: string, usage: string): void => {
  const ext = path.join(PKI_DIR, `${name}.ext`);
  fs.writeFileSync(ext, `basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n` +
    `extendedKeyUsage=${usage}\nsubjectAltName=critical,${san}\n`);
  const csr = path.join(PKI_DIR, `${name}.csr`);
  run('openssl', ['req', '-new', ...EC, '-keyout', pkiFile(name, 'key'), '-subj', subject, '-out', csr]);
  run('openssl', ['x509', '-req', '-in', csr, '-CA', pkiFile('ca', 'crt'), '-CAkey', pkiFile('ca', 'key'),
    '-set_serial', `0x${Buffer.from(name).toString('hex').slice(0, 30)}`, '-days', '7', '-sha256',
    '-extfile', ext, '-out', pkiFile(name, 'crt')]);
  fs.rmSync(csr);
  fs.rmSync(ext);
};

export const createPki = (): void => {
  fs.mkdirSync(PKI_DIR, { recursive: true, mode: 0o700 });
  run('openssl', ['req', '-x509', ...EC, '-keyout', pkiFile('ca', 'key'), '-out', pkiFile('ca', 'crt'),
    '-days', '7', '-sha256', '-subj', '/O=cluster.local/CN=trustmap testbed root CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  const done = new Set<string>();
  for (const p of PODS.filter((x) => x.isInCluster)) {
    const name = workloadCertName(p);
    if (done.has(name)) continue;
    done.add(name);
    issue(name, '/O=cluster.local', `URI:${spiffeId(p)}`, 'serverAuth,clientAuth');
  }
  issue('ingress-public', '/CN=shop.example.com', 'DNS:shop.example.com', 'serverAuth');
  issue('bank', '/CN=api.bank.example', 'DNS:api.bank.example', 'serverAuth');
};
