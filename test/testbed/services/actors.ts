// Pods that only call out, on the traffic driver's command (POST /act on the control socket):
// the internet user behind the load balancer, Prometheus, and the legacy report Job.
import * as http from 'node:http';
import { PODS, REPORT_JOB_TARGET_IP, REPORT_JOB_TOKEN, ADMIN_PORT } from '../definitions.js';
import { callById, clientFor } from './http-apps.js';
import type { Pod } from './runtime.js';
import { request } from './runtime.js';

/** A deterministic product id per session, so runs are comparable. */
const productFor = (session: number): number => 100 + ((session * 7) % 24);

export const startInternetUser = (pod: Pod): void => {
  const shop = clientFor(pod, 'user-ingress');
  pod.act = async (body) => {
    const session = Number(body.session ?? 0);
    const product = productFor(session);
    const done: string[] = [];
    await shop('GET', '/'); done.push('GET /');
    await shop('GET', `/products/${product}`); done.push('GET /products/{id}');
    await shop('POST', '/cart', { cartId: 5000 + session, productId: product }); done.push('POST /cart');
    if (body.checkout === true) {
      await shop('POST', '/checkout', { cartId: 5000 + session, productId: product }); done.push('POST /checkout');
    }
    return { done };
  };
};

/** GET one admin endpoint on a fresh connection (kubelet probes and a scrape each reconnect). */
export const getAdmin = (ip: string, path: string): Promise<number> =>
  new Promise((resolve, reject) => {
    const req = http.get({ host: ip, port: ADMIN_PORT, path, agent: false, timeout: 5000,
      headers: { 'user-agent': path === '/metrics' ? 'Prometheus/2.53.0' : 'kube-probe/1.35' } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('timeout', () => req.destroy(new Error(`${ip}${path}: timeout`)));
    req.on('error', reject);
  });

export const startPrometheus = (pod: Pod): void => {
  pod.act = async () => {
    const targets = PODS.filter((p) => p.isProbed && p !== pod.def);
    const statuses = await Promise.all(targets.map((p) => getAdmin(p.ip, '/metrics')));
    return { scraped: statuses.filter((s) => s === 200).length };
  };
};

export const startReportJob = (pod: Pod): void => {
  const call = callById('report-job-catalog');
  pod.act = async () => {
    // Hard-coded pod IP, plaintext, a static bearer token: what the migration has to find.
    const res = await request(call, new http.Agent({ keepAlive: false }), REPORT_JOB_TARGET_IP, 'GET',
      '/api/products?limit=500', undefined, { authorization: REPORT_JOB_TOKEN });
    return { status: res.status };
  };
};
