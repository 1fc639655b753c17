// shop/orders: a gRPC service over h2c (HTTP/2 without TLS, prior knowledge), unary
// /orders.OrderService/CreateOrder. gRPC over HTTP/2 framing: a 5-byte prefix (compressed flag,
// big-endian length) before each protobuf message; the status travels in trailers.
import * as http2 from 'node:http2';
import type { Pod } from './runtime.js';
import { listen, log } from './runtime.js';

export const GRPC_PATH = '/orders.OrderService/CreateOrder';

/** Protobuf: field 1 string (order id), field 2 varint (amount in cents, < 2^28). */
export const encodeOrder = (orderId: string, cents: number): Buffer => {
  const id = Buffer.from(orderId);
  const varint: number[] = [];
  let v = cents;
  do { varint.push((v & 0x7f) | (v > 0x7f ? 0x80 : 0)); v >>>= 7; } while (v > 0);
  return Buffer.concat([Buffer.from([0x0a, id.length]), id, Buffer.from([0x10, ...varint])]);
};

export const frameMessage = (msg: Buffer): Buffer => {
  const prefix = Buffer.alloc(5);
  prefix.writeUInt32BE(msg.length, 1);
  return Buffer.concat([prefix, msg]);
};

export const startOrders = async (pod: Pod): Promise<void> => {
  let next = 1000;
  const server = http2.createServer();
  server.on('stream', (stream, headers) => {
    const srcIp = (stream.session?.socket.remoteAddress ?? '').replace(/^::ffff:/, '');
    const path = String(headers[':path'] ?? '');
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => {
      if (path !== GRPC_PATH) {
        stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
        stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '12', 'grpc-message': 'unimplemented' }));
        stream.end();
        return;
      }
      next += 1;
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
      stream.on('close', () => {
        if (stream.rstCode !== http2.constants.NGHTTP2_NO_ERROR) return;
        pod.ledger.add({
          kind: 'request', srcIp, dstIp: pod.def.ip, port: 50051, transport: 'tcp', protocol: 'grpc',
          security: 'plaintext', method: String(headers[':method']), path, host: String(headers[':authority'] ?? '') || null,
          sni: null, tlsVersion: null, qtype: null, answer: null, hasCredentials: false,
        });
      });
      stream.end(frameMessage(encodeOrder(`ord-${next}`, 0)));
    });
  });
  await listen(server, 50051, pod.def.ip);
  log.info('orders gRPC (h2c) listening on 50051');
};

/** One unary CreateOrder call on a shared h2c session. */
export const createOrder = (session: http2.ClientHttp2Session, authority: string, orderId: string, cents: number): Promise<void> =>
  new Promise((resolve, reject) => {
    const stream = session.request({
      ':method': 'POST', ':path': GRPC_PATH, ':authority': authority, 'content-type': 'application/grpc',
      te: 'trailers', 'user-agent': 'grpc-node-js/1.12.0',
    });
    let status = '';
    stream.on('trailers', (t) => { status = String(t['grpc-status'] ?? ''); });
    stream.on('data', () => undefined);
    stream.on('end', () => (status === '0' ? resolve() : reject(new Error(`grpc-status ${status}`))));
    stream.on('error', reject);
    stream.setTimeout(5000, () => stream.close(http2.constants.NGHTTP2_CANCEL));
    stream.end(frameMessage(encodeOrder(orderId, cents)));
  });
