// The HTTP workloads of the shop: each a handler behind a PERMISSIVE port (mutual TLS from
// sidecar-injected clients, plaintext from the rest), calling its downstreams as the call graph
// in definitions.ts says.
import * as http from 'node:http';
import * as http2 from 'node:http2';
import type { CallDef } from '../definitions.js';
import { APP_CALLS, serviceByKey } from '../definitions.js';
import { createOrder } from './orders.js';
import { redisSession } from './redis.js';
import type { HttpResult, Pod, TlsServing } from './runtime.js';
import {
  agentFor, countRequest, dialAddress, dialPort, log, readBody, request, secureContextFor, sendJson,
  servePermissive, workloadCertName,
} from './runtime.js';

export const callById = (id: string): CallDef => {
  const call = APP_CALLS.find((c) => c.id === id);
  if (!call) throw new Error(`no call ${id}`);
  return call;
};

export type Client = (method: string, target: string, body?: unknown, headers?: Record<string, string>) => Promise<HttpResult>;

/** An HTTP client for one edge of the call graph; fails on a non-2xx answer. */
export const clientFor = (pod: Pod, id: string): Client => {
  const call = callById(id);
  const agent = agentFor(pod, call);
  return async (method, target, body, headers) => {
    const res = await request(call, agent, await dialAddress(call), method, target, body, headers);
    if (res.status >= 300) throw new Error(`${id}: ${method} ${target} -> ${res.status}`);
    return res;
  };
};

type Handler = (req: http.IncomingMessage, body: string, url: URL) => Promise<[number, unknown]>;

const serveHttp = async (pod: Pod, port: number, tlsServing: TlsServing | null, handler: Handler): Promise<void> => {
  const server = http.createServer((req, res) => {
    countRequest(pod, req, res);
    void (async () => {
      try {
        const body = await readBody(req);
        const [status, value] = await handler(req, body, new URL(req.url ?? '/', 'http://x'));
        sendJson(res, status, value);
      } catch (err) {
        log.warn({ err: (err as Error).message, url: req.url }, 'request failed');
        sendJson(res, 502, { error: 'upstream failed' });
      }
    })();
  });
  server.keepAliveTimeout = 30_000;
  // Like an Envoy max_requests_per_connection: connections (and TLS handshakes) keep turning over.
  server.maxRequestsPerSocket = 8;
  await servePermissive(pod, port, server, tlsServing);
};

const mtlsServing = (pod: Pod): TlsServing => ({ context: secureContextFor(workloadCertName(pod.def)), requireClientCert: true });
const idOf = (url: URL, index: number): number => Number(url.pathname.split('/')[index]);
const parse = (body: string): Record<string, unknown> => (body ? JSON.parse(body) as Record<string, unknown> : {});

const PRODUCTS = Array.from({ length: 24 }, (_, i) => ({ id: 100 + i, name: `product ${100 + i}`, cents: 499 + 100 * i }));

export const startCatalog = (pod: Pod): Promise<void> =>
  serveHttp(pod, 8080, mtlsServing(pod), async (req, _body, url) => {
    if (req.method === 'GET' && url.pathname === '/api/products') {
      return [200, PRODUCTS.slice(0, Number(url.searchParams.get('limit') ?? 10))];
    }
    const m = /^\/api\/products\/(\d+)$/.exec(url.pathname);
    const product = m ? PRODUCTS.find((p) => p.id === Number(m[1])) : undefined;
    return product ? [200, product] : [404, { error: 'no such product' }];
  });

export const startInventory = (pod: Pod): Promise<void> =>
  serveHttp(pod, 8080, null, async (req, body, url) => {
    if (req.method !== 'POST' || url.pathname !== '/api/inventory/reserve') return [404, { error: 'not found' }];
    return [200, { reserved: true, items: parse(body).items ?? [] }];
  });

export const startCart = (pod: Pod): Promise<void> => {
  const call = callById('cart-redis');
  return serveHttp(pod, 8080, null, async (req, body, url) => {
    const m = /^\/api\/cart\/(\d+)\/items$/.exec(url.pathname);
    if (req.method !== 'POST' || !m) return [404, { error: 'not found' }];
    const sku = String(parse(body).productId ?? '0');
    const replies = await redisSession(await dialAddress(call), dialPort(call),
      [['HINCRBY', `cart:${m[1]}`, sku, '1'], ['EXPIRE', `cart:${m[1]}`, '3600']]);
    return [200, { cart: Number(m[1]), quantity: Number((replies[0] ?? ':0').slice(1)) }];
  });
};

export const startPayments = (pod: Pod): Promise<void> => {
  const bank = clientFor(pod, 'payments-bank');
  return serveHttp(pod, 8443, mtlsServing(pod), async (req, body, url) => {
    if (req.method !== 'POST' || url.pathname !== '/v1/charges') return [404, { error: 'not found' }];
    const res = await bank('POST', '/v2/payment_intents', { amount: parse(body).cents ?? 0, currency: 'eur' });
    return [200, { charged: true, intent: JSON.parse(res.body) as unknown }];
  });
};

export const startBank = (pod: Pod): Promise<void> => {
  let n = 0;
  return serveHttp(pod, 443, { context: secureContextFor('bank'), requireClientCert: false }, async (req, _b, url) => {
    if (req.method !== 'POST' || url.pathname !== '/v2/payment_intents') return [404, { error: 'not found' }];
    n += 1;
    return [200, { id: `pi_${n}`, status: 'succeeded' }];
  });
};

export const startCheckout = (pod: Pod): Promise<void> => {
  const inventory = clientFor(pod, 'checkout-inventory');
  const payments = clientFor(pod, 'checkout-payments');
  const ordersCall = callById('checkout-orders');
  const authority = ordersCall.host ?? 'orders';
  let session: http2.ClientHttp2Session | null = null;
  const orders = async (): Promise<http2.ClientHttp2Session> => {
    if (session && !session.closed && !session.destroyed) return session;
    const s = http2.connect(`http://${await dialAddress(ordersCall)}:${dialPort(ordersCall)}`);
    s.on('error', (err) => log.warn({ err: err.message }, 'orders session failed'));
    s.on('close', () => { if (session === s) session = null; });
    session = s;
    return s;
  };
  pod.drains.push(() => { session?.close(); session = null; });
  let n = 0;
  return serveHttp(pod, 8080, mtlsServing(pod), async (req, body, url) => {
    if (req.method !== 'POST' || url.pathname !== '/api/checkout') return [404, { error: 'not found' }];
    const order = parse(body);
    n += 1;
    await inventory('POST', '/api/inventory/reserve', { items: [order.productId] });
    await payments('POST', '/v1/charges', { cents: 1299, cart: order.cartId });
    await createOrder(await orders(), authority, `o-${n}`, 1299);
    return [200, { ordered: true }];
  });
};

export const startFrontend = (pod: Pod): Promise<void> => {
  const catalog = clientFor(pod, 'frontend-catalog');
  const cart = clientFor(pod, 'frontend-cart');
  const checkout = clientFor(pod, 'frontend-checkout');
  return serveHttp(pod, 8080, mtlsServing(pod), async (req, body, url) => {
    const p = url.pathname;
    if (req.method === 'GET' && p === '/') return [200, JSON.parse((await catalog('GET', '/api/products?limit=12')).body) as unknown];
    if (req.method === 'GET' && /^\/products\/\d+$/.test(p)) {
      return [200, JSON.parse((await catalog('GET', `/api/products/${idOf(url, 2)}`)).body) as unknown];
    }
    const order = parse(body);
    if (req.method === 'POST' && p === '/cart') {
      await cart('POST', `/api/cart/${Number(order.cartId)}/items`, { productId: order.productId });
      return [200, { added: true }];
    }
    if (req.method === 'POST' && p === '/checkout') {
      await checkout('POST', '/api/checkout', order);
      return [200, { ordered: true }];
    }
    return [404, { error: 'not found' }];
  });
};

/** istio-system/istio-ingressgateway: terminates the public TLS and forwards over mutual TLS. */
export const startIngressGateway = (pod: Pod): Promise<void> => {
  const call = callById('ingress-frontend');
  const agent = agentFor(pod, call);
  const lb = serviceByKey('istio-system/istio-ingressgateway');
  log.info({ lb: lb.loadBalancerIP }, 'ingress gateway');
  return serveHttp(pod, 8443, { context: secureContextFor('ingress-public'), requireClientCert: false }, async (req, body, url) => {
    const res = await request(call, agent, await dialAddress(call), req.method ?? 'GET', url.pathname + url.search,
      body ? JSON.parse(body) as unknown : undefined, { 'x-forwarded-proto': 'https' });
    return [res.status, JSON.parse(res.body) as unknown];
  });
};
