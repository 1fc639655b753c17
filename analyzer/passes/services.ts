// Pass 2, services: a call whose dialled address (service_ip) or destination is a Service
// address went through that Service. The Service is recorded on the call; when only the
// ClusterIP is known (an outbound-only Envoy line, or a capture that never saw the DNAT'ed copy),
// the target becomes the Service's single backend workload, or stays the Service when it has
// several (we cannot tell which one answered).
import type { AttributionIndex } from '../../collector/identity/attribute.js';
import type { NodeTable } from './nodes.js';
import type { AttributedCall } from './types.js';

export function resolveServices(calls: AttributedCall[], index: AttributionIndex, nodes: NodeTable): void {
  for (const c of calls) {
    const r = c.row;
    const t = r.firstSeenMs;
    if (r.serviceIp !== '') {
      c.isViaService = true;
      const svc = index.serviceAt(r.serviceIp, t);
      if (svc !== null) c.service = nodes.intern(svc, r.serviceIp);
      continue;
    }
    const dst = index.serviceAt(r.dstIp, t);
    if (dst === null) continue;
    c.isViaService = true;
    c.service = c.target;
    if (dst.backends.length === 1) c.target = nodes.internWorkload(dst.backends[0]);
  }
}
