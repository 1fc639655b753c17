// Test-only: a throwaway certificate authority made with the openssl CLI in a temp dir — a CA, a
// server certificate and a client certificate with SPIFFE URI SANs, as a mesh issues them. Keys
// never leave the temp dir and are never committed.
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const haveOpenssl = (): boolean => spawnSync('openssl', ['version']).status === 0;

export interface Pem { key: Buffer; cert: Buffer }
export interface TestPki { ca: Buffer; server: Pem; client: Pem }

const P256 = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

function issue(dir: string, name: string, subject: string, extensions: string[]): Pem {
  openssl(dir, ['req', '-new', ...P256, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subject]);
  writeFileSync(join(dir, `${name}.ext`), extensions.join('\n') + '\n');
  openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-set_serial', String(Date.now()), '-days', '2', '-out', `${name}.crt`, '-extfile', `${name}.ext`]);
  return { key: readFileSync(join(dir, `${name}.key`)), cert: readFileSync(join(dir, `${name}.crt`)) };
}

/** Makes the CA and both leaf certificates in `dir`. */
export function makeTestPki(dir: string, opts: { serverSans: string[]; clientSans: string[] }): TestPki {
  openssl(dir, ['req', '-x509', '-new', ...P256, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/O=trustmap test/CN=throwaway CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  return {
    ca: readFileSync(join(dir, 'ca.crt')),
    server: issue(dir, 'server', '/O=shop/CN=catalog', [`subjectAltName=${opts.serverSans.join(',')}`, 'extendedKeyUsage=serverAuth']),
    client: issue(dir, 'client', '/O=shop/CN=frontend', [`subjectAltName=${opts.clientSans.join(',')}`, 'extendedKeyUsage=clientAuth']),
  };
}
