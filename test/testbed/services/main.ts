// Entry of every testbed pod process: `node pod.mjs INDEX` inside the pod's network namespace.
import { PODS } from '../definitions.js';
import { startInternetUser, startPrometheus, startReportJob } from './actors.js';
import { startCoreDns } from './coredns.js';
import {
  startBank, startCart, startCatalog, startCheckout, startFrontend, startIngressGateway, startInventory, startPayments,
} from './http-apps.js';
import { startOrders } from './orders.js';
import { startRedis } from './redis.js';
import type { Pod } from './runtime.js';
import { createPod, log, serveAdmin, serveControl } from './runtime.js';

const STARTERS: Record<string, (pod: Pod) => Promise<void> | void> = {
  coredns: startCoreDns, ingressgateway: startIngressGateway, frontend: startFrontend, catalog: startCatalog,
  cart: startCart, checkout: startCheckout, inventory: startInventory, orders: startOrders, redis: startRedis,
  payments: startPayments, prometheus: startPrometheus, 'report-job': startReportJob, bank: startBank,
  'internet-user': startInternetUser,
};

const main = async (): Promise<void> => {
  const def = PODS[Number(process.argv[2])];
  if (!def) throw new Error(`usage: pod.mjs INDEX (0..${PODS.length - 1})`);
  const pod = createPod(def);
  const start = STARTERS[def.role];
  if (!start) throw new Error(`no starter for role ${def.role}`);
  await start(pod);
  if (def.isProbed) await serveAdmin(pod);
  await serveControl(pod);
  log.info({ pod: def.name, ip: def.ip, role: def.role }, 'ready');
};

process.on('unhandledRejection', (err) => log.error({ err: (err as Error).message }, 'unhandled rejection'));
main().catch((err: Error) => {
  log.error({ err: err.message }, 'pod failed to start');
  process.exit(1);
});
