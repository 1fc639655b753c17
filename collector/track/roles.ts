// Who is the client when the capture missed the handshake. Documented in docs/tracking.md.

/** Ports whose owner is almost always the server, even above 1024. */
const SERVER_PORTS = new Set([
  1433, 1521, 2379, 2380, 3000, 3306, 4317, 4318, 5000, 5432, 5672, 6379, 6443, 7070, 8000,
  8080, 8081, 8443, 8888, 9000, 9042, 9090, 9092, 9093, 9200, 9300, 10250, 11211, 15008, 15012,
  15017, 15021, 15090, 27017,
]);

const EPHEMERAL_START = 32768; // Linux's default ip_local_port_range starts here

/**
 * For a packet src:srcPort → dst:dstPort of a connection whose SYN was not seen: is dst the
 * server? Well-known ports beat registered ports beat ephemeral ones; a tie keeps the packet's
 * own direction, because a mid-stream capture usually starts with the client's next request.
 */
export function dstLooksLikeServer(srcPort: number, dstPort: number): boolean {
  const rank = (port: number): number =>
    port < 1024 ? 3 : SERVER_PORTS.has(port) ? 2 : port < EPHEMERAL_START ? 1 : 0;
  const s = rank(srcPort), d = rank(dstPort);
  if (s !== d) return d > s;
  return true;
}
