// What every testbed pod process shares: the ledger, the control socket, the plaintext admin
// port, a PERMISSIVE listener (mTLS and plaintext on one port, like an Istio sidecar), and the
// clients (kube-dns lookups, keep-alive HTTP and mutual-TLS agents).
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { Resolver } from 'node:dns/promises';
import { Duplex } from 'node:stream';
import { pino } from 'pino';
import type { CallDef, PodDef } from '../definitions.js';
import { ADMIN_PORT, PODS, podsOf, serviceByKey, spiffeId, workloadCertName } from '../definitions.js';
import type { LedgerKey } from '../ledger.js';
import { Ledger, templatePath } from '../ledger.js';
import { ctlSocket, pkiFile } from '../paths.js';

export const log = pino({ base: undefined, timestamp: pino.stdTimeFunctions.isoTime });

export interface Pod {
  def: PodDef;
  ledger: Ledger;
  /** Called by the control socket's POST /act (actors only). */
  act?: (body: Record<string, unknown>) => Promise<unknown>;
  /** Closes pooled client connections, so a recording ends with FINs, not half-open flows. */
  drains: Array<() => void>;
}

export const createPod = (def: PodDef): Pod => ({ def, ledger: new Ledger(), drains: [] });

const readBody = (req: http.IncomingMessage): Promise<string> =>
  new Promise((resolve, reject) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => { body += c; });
    req.on('end', () => resolve(body));
    req.on('error', reject);
  });

export const sendJson = (res: http.ServerResponse, status: number, value: unknown): void => {
  const body = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
};

/** The control socket: a unix-domain HTTP server the CLI talks to (never seen on the pod network). */
export const serveControl = async (pod: Pod): Promise<void> => {
  const file = ctlSocket(pod.def);
  fs.rmSync(file, { force: true });
  const server = http.createServer((req, res) => {
    void (async () => {
      try {
        if (req.url === '/ready') return sendJson(res, 200, { ready: true });
        if (req.url === '/ledger') return sendJson(res, 200, pod.ledger.list());
        if (req.url === '/reset' && req.method === 'POST') {
          pod.drains.forEach((d) => d());
          pod.ledger.clear();
          return sendJson(res, 200, { reset: true });
        }
        if (req.url === '/drain' && req.method === 'POST') {
          pod.drains.forEach((d) => d());
          return sendJson(res, 200, { drained: true });
        }
        if (req.url === '/act' && req.method === 'POST' && pod.act) {
          const body = JSON.parse(await readBody(req)) as Record<string, unknown>;
          return sendJson(res, 200, await pod.act(body));
        }
        sendJson(res, 404, { error: 'not found' });
      } catch (err) {
        sendJson(res, 500, { error: (err as Error).message });
      }
    })();
  });
  await new Promise<void>((resolve) => server.listen(file, resolve));
};

export interface ConnInfo { srcIp: string; dstIp: string; port: number; security: 'plaintext' | 'tls' | 'mtls' }
const connInfo = new WeakMap<object, ConnInfo>();
export const infoOf = (socket: object): ConnInfo | undefined => connInfo.get(socket);

const v4 = (addr: string | undefined): string => (addr ?? '').replace(/^::ffff:/, '');

/** Counts one HTTP request when its response has been written completely. */
export const countRequest = (pod: Pod, req: http.IncomingMessage, res: http.ServerResponse, protocol: 'http' | 'grpc' = 'http'): void => {
  const info = infoOf(req.socket) ?? {
    srcIp: v4(req.socket.remoteAddress), dstIp: v4(req.socket.localAddress),
    port: req.socket.localPort ?? 0, security: 'plaintext' as const,
  };
  const key: LedgerKey = {
    kind: 'request', srcIp: info.srcIp, dstIp: info.dstIp, port: info.port, transport: 'tcp', protocol,
    security: info.security, method: req.method ?? null, path: templatePath(req.url ?? '/'),
    host: req.headers.host ?? null, sni: null, tlsVersion: null, qtype: null, answer: null,
    hasCredentials: req.headers.authorization !== undefined,
  };
  res.on('finish', () => pod.ledger.add(key));
};

/** Plaintext /healthz (kubelet) and /metrics (Prometheus) on the admin port. */
export const serveAdmin = async (pod: Pod): Promise<void> => {
  let served = 0;
  const server = http.createServer((req, res) => {
    countRequest(pod, req, res);
    served += 1;
    if (req.url === '/healthz') return sendJson(res, 200, { status: 'ok' });
    if (req.url === '/metrics') {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
      return res.end(`# TYPE tm_requests_total counter\ntm_requests_total{pod="${pod.def.name}"} ${served}\n`);
    }
    sendJson(res, 404, { error: 'not found' });
  });
  await listen(server, ADMIN_PORT, pod.def.ip);
};

export const listen = (server: net.Server, port: number, host: string): Promise<void> =>
  new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });

// A tls.TLSSocket over a net.Socket reads the socket's handle directly, so bytes pushed back with
// unshift() would be lost; a JS Duplex in between carries the sniffed first chunk.
const replay = (socket: net.Socket, first: Buffer): Duplex => {
  const d = new Duplex({
    read() { socket.resume(); },
    write(chunk: Buffer, _enc, cb) { socket.write(chunk, cb); },
    final(cb) { socket.end(); cb(); },
    destroy(err, cb) { socket.destroy(); cb(err); },
  });
  d.push(first);
  socket.on('data', (c: Buffer) => { if (!d.push(c)) socket.pause(); });
  socket.on('end', () => d.push(null));
  socket.on('error', (e) => d.destroy(e));
  return d;
};

export const SERVER_ALPN = ['istio-http/1.1', 'istio-peer-exchange', 'istio', 'http/1.1'];

export const secureContextFor = (name: string): tls.SecureContext =>
  tls.createSecureContext({
    key: fs.readFileSync(pkiFile(name, 'key')), cert: fs.readFileSync(pkiFile(name, 'crt')),
    ca: fs.readFileSync(pkiFile('ca', 'crt')),
  });

export interface TlsServing {
  context: tls.SecureContext;
  /** true: a TLS client must present a certificate (an Istio sidecar's inbound mTLS). */
  requireClientCert: boolean;
}

/**
 * One port, PERMISSIVE: a first byte 0x16 (TLS handshake record, RFC 8446 §5.1) goes to TLS,
 * anything else to plaintext HTTP. Counts each TLS connection when its handshake completes.
 */
export const servePermissive = async (pod: Pod, port: number, server: http.Server, tlsServing: TlsServing | null): Promise<void> => {
  const front = net.createServer((socket) => {
    socket.once('data', (first: Buffer) => {
      socket.pause();
      const base = { srcIp: v4(socket.remoteAddress), dstIp: v4(socket.localAddress), port };
      if (first[0] === 0x16 && tlsServing) {
        const t = new tls.TLSSocket(replay(socket, first), {
          isServer: true, secureContext: tlsServing.context, ALPNProtocols: SERVER_ALPN,
          requestCert: tlsServing.requireClientCert, rejectUnauthorized: tlsServing.requireClientCert,
        });
        t.on('secure', () => {
          const security = t.getPeerCertificate()?.raw ? 'mtls' : 'tls';
          connInfo.set(t, { ...base, security });
          pod.ledger.add({
            kind: 'tls-connection', ...base, transport: 'tcp', protocol: 'tls', security, method: null, path: null,
            host: null, sni: t.servername || null, tlsVersion: t.getProtocol(), qtype: null, answer: null,
            hasCredentials: false,
          });
          server.emit('connection', t);
        });
        t.on('error', (err) => log.warn({ err: err.message, src: base.srcIp }, 'tls handshake failed'));
      } else {
        connInfo.set(socket, { ...base, security: 'plaintext' });
        socket.unshift(first);
        server.emit('connection', socket);
        socket.resume();
      }
    });
    socket.on('error', () => socket.destroy());
  });
  await listen(front, port, pod.def.ip);
};

// ---- clients ---------------------------------------------------------------------------------

const resolver = new Resolver({ timeout: 2000, tries: 1 });
resolver.setServers([serviceByKey('kube-system/kube-dns').clusterIP]);
const dnsCache = new Map<string, { ip: string; expiresMs: number }>();

/** A cached A lookup through kube-dns, honouring the answer's TTL like a stub resolver would. */
export const resolveA = async (name: string): Promise<string> => {
  const hit = dnsCache.get(name);
  if (hit && hit.expiresMs > Date.now()) return hit.ip;
  const [answer] = await resolver.resolve4(name, { ttl: true });
  if (!answer) throw new Error(`no A record for ${name}`);
  dnsCache.set(name, { ip: answer.address, expiresMs: Date.now() + answer.ttl * 1000 });
  return answer.address;
};

/** The address a call dials: the Service's name (resolved), its LB/Cluster IP, or a pod IP. */
export const dialAddress = async (call: CallDef): Promise<string> => {
  if (call.via.kind === 'pod-ip') {
    const target = podsOf(call.to)[0];
    if (!target) throw new Error(`no pod for ${call.to}`);
    return call.id === 'report-job-catalog' ? (call.host ?? '').split(':')[0] ?? target.ip : target.ip;
  }
  const svc = serviceByKey(call.via.service);
  if (call.via.useDns) return resolveA(`${svc.name}.${svc.namespace}.svc.cluster.local`);
  return svc.loadBalancerIP ?? svc.clusterIP;
};

/** The port a call dials: the Service port (kube-proxy maps it to the targetPort), else the pod's. */
export const dialPort = (call: CallDef): number => {
  if (call.via.kind === 'pod-ip') return call.port;
  const svc = serviceByKey(call.via.service);
  return svc.ports.find((p) => p.targetPort === call.port && p.protocol === 'TCP')?.port ?? call.port;
};

/** A keep-alive agent for one call: plaintext, server-only TLS, or Istio-style mutual TLS. */
export const agentFor = (pod: Pod, call: CallDef): http.Agent => {
  if (call.security === 'plaintext') {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
    pod.drains.push(() => agent.destroy());
    return agent;
  }
  if (!call.tls) throw new Error(`${call.id}: TLS call without tls settings`);
  const peers = podsOf(call.to);
  const isMutual = call.security === 'mtls';
  const agent = new https.Agent({
    keepAlive: true, maxSockets: 4,
    // No session resumption: every TLS 1.2 handshake then carries the client's Certificate in clear.
    maxCachedSessions: 0,
    ca: fs.readFileSync(pkiFile('ca', 'crt')),
    ...(isMutual ? {
      key: fs.readFileSync(pkiFile(workloadCertName(pod.def), 'key')),
      cert: fs.readFileSync(pkiFile(workloadCertName(pod.def), 'crt')),
    } : {}),
    servername: call.tls.sni,
    ALPNProtocols: call.tls.alpn,
    minVersion: call.tls.version, maxVersion: call.tls.version,
    // Istio checks the peer's SPIFFE identity, not a host name.
    checkServerIdentity: (host, cert) => {
      if (!isMutual) return tls.checkServerIdentity(call.tls?.sni ?? host, cert);
      const sans = cert.subjectaltname ?? '';
      return peers.some((p) => sans.includes(`URI:${spiffeId(p)}`))
        ? undefined : new Error(`unexpected peer identity ${sans}`);
    },
  });
  pod.drains.push(() => agent.destroy());
  return agent;
};

export interface HttpResult { status: number; body: string }

export const request = (
  call: CallDef, agent: http.Agent, address: string, method: string, target: string,
  body: unknown, headers: Record<string, string> = {},
): Promise<HttpResult> =>
  new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const mod = call.security === 'plaintext' ? http : https;
    const req = mod.request({
      host: address, port: dialPort(call), method, path: target, agent,
      headers: {
        ...(call.host ? { host: call.host } : {}),
        ...(payload ? { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(payload)) } : {}),
        'user-agent': 'trustmap-testbed',
        ...headers,
      },
      timeout: 5000,
    }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { text += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('timeout', () => req.destroy(new Error(`${call.id}: timeout`)));
    req.on('error', reject);
    req.end(payload);
  });

export { readBody, workloadCertName };
