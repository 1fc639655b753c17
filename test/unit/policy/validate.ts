// Validates generated objects against the real schemas in test/fixtures/schemas/ (see
// ATTRIBUTION.md there): Istio's CRD openAPIV3Schema, the Kubernetes 1.35 OpenAPI v3 for
// NetworkPolicy, the CiliumNetworkPolicy JSON Schema, the Linkerd CRDs' openAPIV3Schema and the
// Linkerd AuthorizationPolicy JSON Schema. Unknown fields are errors (kubectl apply validates
// strictly by default since Kubernetes 1.27), and the CRDs' CEL rules (x-kubernetes-validations)
// that touch fields we emit are re-implemented below, quoting the rule they stand for.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv, type ValidateFunction } from 'ajv';
import { parseAllDocuments } from 'yaml';

const DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'fixtures', 'schemas');
const readJson = (f: string): unknown => JSON.parse(readFileSync(join(DIR, f), 'utf8'));

type Json = Record<string, unknown>;

/** Closes every object schema that lists properties and does not preserve unknown fields. */
function tighten(s: unknown): unknown {
  if (Array.isArray(s)) return s.map(tighten);
  if (s === null || typeof s !== 'object') return s;
  const o: Json = {};
  for (const [k, v] of Object.entries(s as Json)) o[k] = k === 'properties' ? Object.fromEntries(Object.entries(v as Json).map(([pk, pv]) => [pk, tighten(pv)])) : tighten(v);
  if (o.properties !== undefined && o.additionalProperties === undefined && o['x-kubernetes-preserve-unknown-fields'] !== true) o.additionalProperties = false;
  return o;
}

/** Go's RE2 spells Unicode classes `\\PC`, `\\pL`; JavaScript needs `\\P{C}`, `\\p{L}` (and the u flag). */
const goRegExp = Object.assign((source: string, flags: string) => new RegExp(source.replace(/\\([pP])([A-Z])(?![{a-z])/g, '\\$1{$2}'), flags), { code: 'new RegExp' });
const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false, code: { regExp: goRegExp } });

function crdSchemas(): Map<string, unknown> {
  const out = new Map<string, unknown>();
  for (const d of parseAllDocuments(readFileSync(join(DIR, 'istio-security-crds.yaml'), 'utf8'))) {
    const crd = d.toJSON() as { spec: { group: string; names: { kind: string }; versions: Array<{ name: string; schema: { openAPIV3Schema: unknown } }> } };
    for (const v of crd.spec.versions) out.set(`${crd.spec.group}/${v.name}/${crd.spec.names.kind}`, v.schema.openAPIV3Schema);
  }
  for (const [key, schema] of Object.entries(readJson('linkerd-policy-crds-openapi-subset.json') as Json)) {
    const [kind, version] = key.split('/');
    out.set(`policy.linkerd.io/${version}/${kind}`, schema);
  }
  return out;
}

const compiled = new Map<string, ValidateFunction>();
const crds = crdSchemas();
ajv.addSchema(tighten(readJson('k8s-1.35-networking-v1-networkpolicy-subset.json')) as object, 'k8s-networking');

function validatorFor(apiVersion: string, kind: string): { fn: ValidateFunction; isCrd: boolean } | null {
  const key = `${apiVersion}/${kind}`;
  let fn = compiled.get(key);
  const isCrd = crds.has(key);
  if (!fn) {
    if (key === 'networking.k8s.io/v1/NetworkPolicy') fn = ajv.compile({ $ref: 'k8s-networking#/components/schemas/io.k8s.api.networking.v1.NetworkPolicy' });
    else if (key === 'cilium.io/v2/CiliumNetworkPolicy') fn = ajv.compile(readJson('cilium-ciliumnetworkpolicy-v2.json') as object);
    else if (isCrd) fn = ajv.compile(tighten(crds.get(key)) as object);
    else return null;
    compiled.set(key, fn);
  }
  return { fn, isCrd };
}

const linkerdAuthz = ajv.compile(readJson('linkerd-authorizationpolicy-v1alpha1.json') as object);
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** CEL rules of the Istio CRDs (x-kubernetes-validations) for the fields we emit. */
function istioCel(kind: string, spec: Json): string[] {
  const errs: string[] = [];
  const sel = spec.selector as { matchLabels?: Record<string, string> } | undefined;
  for (const [k, v] of Object.entries(sel?.matchLabels ?? {})) {
    if (v.includes('*')) errs.push('wildcard not allowed in label value match'); // !self.contains("*")
    if (k.includes('*')) errs.push('wildcard not allowed in label key match'); // self.all(key, !key.contains("*"))
    if (k.length === 0) errs.push('key must not be empty'); // self.all(key, key.size() != 0)
  }
  // (has(self.selector) ? 1 : 0) + (has(self.targetRef) ? 1 : 0) + (has(self.targetRefs) ? 1 : 0) <= 1
  if (['selector', 'targetRef', 'targetRefs'].filter((f) => spec[f] !== undefined).length > 1) errs.push('only one of targetRefs or selector can be set');
  if (kind === 'AuthorizationPolicy') {
    for (const r of (spec.rules as Array<{ from?: Array<{ source?: Json }> }> | undefined) ?? []) {
      for (const f of r.from ?? []) {
        const s = f.source ?? {};
        // (has(self.serviceAccounts) || has(self.notServiceAccounts)) ? (!has(self.principals) && ... namespaces ...) : true
        if ((s.serviceAccounts !== undefined || s.notServiceAccounts !== undefined)
          && ['principals', 'notPrincipals', 'namespaces', 'notNamespaces'].some((x) => s[x] !== undefined)) errs.push('Cannot set serviceAccounts with namespaces or principals');
      }
    }
  }
  if (kind === 'PeerAuthentication' && spec.portLevelMtls !== undefined) {
    // has(self.portLevelMtls) ? has(self.selector) : true
    if (spec.selector === undefined) errs.push('portLevelMtls requires selector');
    for (const key of Object.keys(spec.portLevelMtls as Json)) {
      // self.all(key, 0 < int(key) && int(key) <= 65535)
      if (!/^-?\d+$/.test(key)) errs.push(`type conversion error from string to int: ${key}`);
      else if (Number(key) < 1 || Number(key) > 65535) errs.push('port must be between 1-65535');
    }
  }
  return errs;
}

/** Errors for one object (empty: valid). */
export function validateObject(obj: unknown): string[] {
  if (obj === null || typeof obj !== 'object') return ['not an object'];
  const o = obj as Json;
  const apiVersion = String(o.apiVersion);
  const kind = String(o.kind);
  const v = validatorFor(apiVersion, kind);
  if (v === null) return [`no schema for ${apiVersion} ${kind}`];
  const errs: string[] = [];
  const meta = (o.metadata ?? {}) as Json;
  if (typeof meta.name !== 'string' || meta.name.length > 253 || !DNS_SUBDOMAIN.test(meta.name)) errs.push(`metadata.name ${JSON.stringify(meta.name)} is not a DNS-1123 subdomain`);
  if (meta.namespace !== undefined && (typeof meta.namespace !== 'string' || !DNS_LABEL.test(meta.namespace))) errs.push('metadata.namespace is not a DNS-1123 label');
  if (v.isCrd) {
    // A CRD's schema leaves apiVersion/kind/metadata to the API server; check the rest.
    const { apiVersion: _a, kind: _k, metadata: _m, ...rest } = o;
    if (!v.fn(rest)) errs.push(...(v.fn.errors ?? []).map((e) => `${e.instancePath} ${e.message ?? ''}`));
    if (apiVersion.startsWith('security.istio.io/')) errs.push(...istioCel(kind, (o.spec ?? {}) as Json));
    if (apiVersion === 'policy.linkerd.io/v1alpha1' && kind === 'AuthorizationPolicy' && !linkerdAuthz(o)) {
      errs.push(...(linkerdAuthz.errors ?? []).map((e) => `(json schema) ${e.instancePath} ${e.message ?? ''}`));
    }
  } else if (!v.fn(o)) {
    errs.push(...(v.fn.errors ?? []).map((e) => `${e.instancePath} ${e.message ?? ''}`));
  }
  return errs;
}

/** Every document of a YAML stream, parsed; a YAML error is thrown. */
export function parseStream(text: string): unknown[] {
  return parseAllDocuments(text).map((d) => {
    if (d.errors.length > 0) throw new Error(`YAML error: ${d.errors[0].message}`);
    return d.toJSON();
  }).filter((d) => d !== null);
}
