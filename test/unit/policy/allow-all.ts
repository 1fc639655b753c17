// The structural check behind "never emit a rule whose empty from/to/selector means everyone"
// (docs/policies.md#no-allow-all). One function per kind; each returns what it found wrong.
type J = Record<string, unknown>;
const isObj = (v: unknown): v is J => v !== null && typeof v === 'object' && !Array.isArray(v);
const nonEmptyLabels = (sel: unknown): boolean => isObj(sel) && isObj(sel.matchLabels) && Object.keys(sel.matchLabels).length > 0;
const HOST_CIDR = /^([0-9.]+\/32|[0-9a-f:]+\/128)$/;

function istio(kind: string, name: string, spec: J): string[] {
  if (kind !== 'AuthorizationPolicy') return [];
  const errs: string[] = [];
  if (Object.keys(spec).length === 0) return name === 'allow-nothing' ? [] : ['empty spec outside allow-nothing'];
  if (spec.action !== 'ALLOW') errs.push(`action ${String(spec.action)}`);
  if (!nonEmptyLabels(spec.selector)) errs.push('empty selector');
  const rules = spec.rules as J[] | undefined;
  if (!Array.isArray(rules) || rules.length === 0) errs.push('no rules');
  for (const r of rules ?? []) {
    const from = r.from as J[] | undefined;
    if (!Array.isArray(from) || from.length === 0) { errs.push('rule without from'); continue; }
    for (const f of from) {
      const s = f.source;
      if (!isObj(s)) { errs.push('from without source'); continue; }
      const keys = Object.keys(s);
      if (keys.some((k) => k !== 'principals' && k !== 'ipBlocks')) errs.push(`source field ${keys.join(',')}`);
      const vals = [...((s.principals as string[]) ?? []), ...((s.ipBlocks as string[]) ?? [])];
      if (vals.length === 0) errs.push('empty source');
      if (vals.some((v) => v.includes('*'))) errs.push('wildcard principal');
      for (const c of (s.ipBlocks as string[]) ?? []) if (!HOST_CIDR.test(c)) errs.push(`ipBlock ${c}`);
    }
    if (r.to !== undefined) {
      if (!Array.isArray(r.to) || r.to.length === 0) errs.push('empty to');
      for (const t of (r.to as J[]) ?? []) if (!isObj(t.operation) || Object.keys(t.operation).length === 0) errs.push('empty operation');
    }
  }
  return errs;
}

function k8sPeer(p: J): string[] {
  if (Object.keys(p).length === 0) return ['empty peer'];
  if (p.ipBlock !== undefined) {
    const b = p.ipBlock as J;
    return HOST_CIDR.test(String(b.cidr)) && b.except === undefined && Object.keys(p).length === 1 ? [] : [`ipBlock ${JSON.stringify(b)}`];
  }
  const errs: string[] = [];
  if (!nonEmptyLabels(p.podSelector)) errs.push('peer without pod labels');
  if (!nonEmptyLabels(p.namespaceSelector)) errs.push('peer without namespace');
  return errs;
}

function netpol(spec: J): string[] {
  const errs: string[] = [];
  const isDefaultDeny = isObj(spec.podSelector) && Object.keys(spec.podSelector).length === 0;
  if (isDefaultDeny) return spec.ingress === undefined && spec.egress === undefined ? [] : ['empty podSelector with rules'];
  if (!nonEmptyLabels(spec.podSelector)) errs.push('empty podSelector');
  for (const [dir, peerKey] of [['ingress', 'from'], ['egress', 'to']] as const) {
    const list = spec[dir];
    if (list === undefined) continue;
    if (!Array.isArray(list) || list.length === 0) errs.push(`empty ${dir} list`);
    for (const r of (list as J[]) ?? []) {
      const peers = r[peerKey];
      if (!Array.isArray(peers) || peers.length === 0) { errs.push(`${dir} rule without ${peerKey}`); continue; }
      for (const p of peers as J[]) errs.push(...k8sPeer(p));
      if (r.ports !== undefined && (!Array.isArray(r.ports) || r.ports.length === 0 || (r.ports as J[]).some((x) => x.port === undefined))) errs.push('port entry without port');
    }
  }
  return errs;
}

const NS_KEY = 'k8s:io.kubernetes.pod.namespace';
function cilium(spec: J): string[] {
  const errs: string[] = [];
  if (!nonEmptyLabels(spec.endpointSelector)) errs.push('empty endpointSelector');
  for (const [dir, pre] of [['ingress', 'from'], ['egress', 'to']] as const) {
    for (const r of (spec[dir] as J[] | undefined) ?? []) {
      const peerKeys = Object.keys(r).filter((k) => k.startsWith(pre) && k !== 'toPorts' && k !== 'fromPorts');
      if (peerKeys.length === 0) errs.push(`${dir} rule without peers`);
      for (const k of peerKeys) {
        const v = r[k];
        if (!Array.isArray(v) || v.length === 0) { errs.push(`empty ${k}`); continue; }
        if (k === `${pre}Endpoints`) for (const s of v as J[]) {
          const ml = (isObj(s.matchLabels) ? s.matchLabels : {}) as J;
          if (ml[NS_KEY] === undefined || Object.keys(ml).length < 2 || s.matchExpressions !== undefined) errs.push('endpoint selector without namespace and labels');
        } else if (k === `${pre}Entities`) {
          for (const e of v as string[]) if (e !== 'host' && e !== 'remote-node') errs.push(`entity ${e}`);
        } else if (k === `${pre}CIDR`) {
          for (const c of v as string[]) if (!HOST_CIDR.test(c)) errs.push(`cidr ${c}`);
        } else errs.push(`peer field ${k}`);
      }
      if (r.toPorts !== undefined && (!Array.isArray(r.toPorts) || r.toPorts.length === 0)) errs.push('empty toPorts');
    }
  }
  return errs;
}

function linkerd(kind: string, spec: J): string[] {
  switch (kind) {
    case 'Server': return [...(nonEmptyLabels(spec.podSelector) ? [] : ['empty podSelector']), ...(spec.accessPolicy === 'deny' || spec.accessPolicy === 'audit' ? [] : [`accessPolicy ${String(spec.accessPolicy)}`])];
    case 'MeshTLSAuthentication': {
      const ids = spec.identities as string[] | undefined;
      return !Array.isArray(ids) || ids.length === 0 || ids.some((i) => i.includes('*')) || spec.identityRefs !== undefined ? ['identities empty or wildcard'] : [];
    }
    case 'NetworkAuthentication': {
      const n = spec.networks as J[] | undefined;
      return !Array.isArray(n) || n.length === 0 || n.some((x) => !HOST_CIDR.test(String(x.cidr)) || x.except !== undefined) ? ['networks empty or wider than a host'] : [];
    }
    case 'HTTPRoute': {
      const rules = spec.rules as J[] | undefined;
      if (!Array.isArray(rules) || rules.length === 0) return ['route without rules'];
      return rules.some((r) => !Array.isArray(r.matches) || r.matches.length === 0 || (r.matches as J[]).some((m) => m.path === undefined)) ? ['rule without explicit matches'] : [];
    }
    case 'AuthorizationPolicy': {
      const refs = spec.requiredAuthenticationRefs as J[] | undefined;
      return !Array.isArray(refs) || refs.length === 0 ? ['authorization without authentication'] : [];
    }
    default: return [`kind ${kind}`];
  }
}

/** What in this object could allow everyone; empty when nothing. */
export function allowAllViolations(obj: unknown): string[] {
  if (!isObj(obj) || !isObj(obj.spec) || !isObj(obj.metadata)) return ['not an object with metadata and spec'];
  const api = String(obj.apiVersion);
  const kind = String(obj.kind);
  if (api.startsWith('security.istio.io/')) return istio(kind, String(obj.metadata.name), obj.spec);
  if (api === 'networking.k8s.io/v1') return netpol(obj.spec);
  if (api === 'cilium.io/v2') return cilium(obj.spec);
  if (api.startsWith('policy.linkerd.io/')) return linkerd(kind, obj.spec);
  return [`unknown ${api}`];
}
