// Policy files → validated policies. Files or folders (recursively: *.yaml, *.yml, *.json),
// multi-document YAML, `kind: List` (and `*List`) items. Every supported kind's shape is checked
// with its zod schema; a file that cannot be read or parsed, or an object of a supported kind
// that is invalid, stops the load with the file and line (PolicyLoadError → exit 2). Objects of
// other kinds are counted and reported, not fatal.
import { readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { isMap, isSeq, LineCounter, parseAllDocuments, type Node as YamlNode } from 'yaml';
import { z } from 'zod';
import { authorizationPolicySpec } from './istio-authorization.js';
import { peerAuthenticationSpec } from './istio-peer-authentication.js';
import { ciliumNetworkPolicySpec } from './cilium.js';
import { networkPolicySpec } from './network-policy.js';
import type { LoadedPolicy, LoadResult, PolicyKind } from './model.js';

/** A policy file that cannot be used: the message names the file and line. */
export class PolicyLoadError extends Error {
  override name = 'PolicyLoadError';
  constructor(readonly file: string, readonly line: number | null, detail: string) {
    super(`${file}${line !== null ? `:${line}` : ''}: ${detail}`);
  }
}

/** apiVersions per supported kind (older Istio versions are the same schema). */
const SUPPORTED: Record<PolicyKind, { apiVersions: string[]; spec: z.ZodType; input?: (obj: Record<string, unknown>) => unknown }> = {
  AuthorizationPolicy: { apiVersions: ['security.istio.io/v1', 'security.istio.io/v1beta1'], spec: authorizationPolicySpec },
  PeerAuthentication: { apiVersions: ['security.istio.io/v1', 'security.istio.io/v1beta1'], spec: peerAuthenticationSpec },
  NetworkPolicy: { apiVersions: ['networking.k8s.io/v1'], spec: networkPolicySpec },
  // A CiliumNetworkPolicy carries one rule in `spec`, several in `specs`, or both.
  CiliumNetworkPolicy: {
    apiVersions: ['cilium.io/v2'], spec: ciliumNetworkPolicySpec,
    input: (obj) => ({ rules: [...(obj.spec != null ? [obj.spec] : []), ...(Array.isArray(obj.specs) ? obj.specs : [])] }),
  },
};

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

const metadataSchema = z.object({
  // The API server accepts only DNS-1123 subdomains here; so do we (names end up in reports and errors).
  name: z.string().max(253).regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, 'not a Kubernetes object name'),
  // kubectl apply puts an object without a namespace into "default" (the context's namespace).
  namespace: z.string().regex(DNS_LABEL, 'not a Kubernetes namespace name').default('default'),
  annotations: z.record(z.string(), z.string()).nullish(),
}).loose();

/** Policy files are configuration, not captures: anything bigger is a mistake. */
const MAX_FILE_BYTES = 16 * 1024 * 1024;
const POLICY_FILE = /\.(ya?ml|json)$/i;

/**
 * Every policy file under the given paths, in a stable order, each once: files and folders are
 * told apart by their real path, so a folder linked in twice, a link back up (a loop) or the same
 * file given twice is read once (twice would count its rules twice in drift).
 */
export function policyFiles(paths: string[]): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  const walk = (p: string, isTop: boolean) => {
    let st;
    let real;
    try {
      st = statSync(p);
      real = realpathSync(p);
    } catch (err) {
      throw new PolicyLoadError(p, null, `cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    if (seen.has(real)) return;
    if (st.isDirectory()) {
      seen.add(real);
      let entries: string[];
      try {
        entries = readdirSync(p).sort();
      } catch (err) {
        throw new PolicyLoadError(p, null, `cannot list: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      }
      for (const e of entries) if (!e.startsWith('.')) walk(join(p, e), false);
    } else if (isTop || POLICY_FILE.test(p)) {
      seen.add(real);
      out.push(p);
    }
  };
  for (const p of paths) walk(p, true);
  return out;
}

export function loadPolicies(paths: string[]): LoadResult {
  const files = policyFiles(paths);
  const policies: LoadedPolicy[] = [];
  const unknown = new Map<string, number>();
  for (const file of files) loadFile(file, policies, unknown);
  if (files.length === 0) throw new PolicyLoadError(paths.join(', '), null, 'no policy files (*.yaml, *.yml, *.json) found');
  return { policies, unknown: [...unknown].sort(([a], [b]) => a.localeCompare(b)).map(([kind, count]) => ({ kind, count })), files };
}

function loadFile(file: string, out: LoadedPolicy[], unknown: Map<string, number>): void {
  let text: string;
  try {
    if (statSync(file).size > MAX_FILE_BYTES) throw new PolicyLoadError(file, null, `larger than ${MAX_FILE_BYTES / 1024 / 1024} MiB`);
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if (err instanceof PolicyLoadError) throw err;
    throw new PolicyLoadError(file, null, `cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  loadText(file, text, out, unknown);
}

/** Policy text already in memory (the proposals the UI simulates), each under a display name. */
export function loadPolicyTexts(texts: Array<{ name: string; text: string }>): LoadResult {
  const policies: LoadedPolicy[] = [];
  const unknown = new Map<string, number>();
  for (const t of texts) {
    if (t.text.length > MAX_FILE_BYTES) throw new PolicyLoadError(t.name, null, `larger than ${MAX_FILE_BYTES / 1024 / 1024} MiB`);
    loadText(t.name, t.text, policies, unknown);
  }
  return { policies, unknown: [...unknown].sort(([a], [b]) => a.localeCompare(b)).map(([kind, count]) => ({ kind, count })), files: texts.map((t) => t.name) };
}

function loadText(file: string, text: string, out: LoadedPolicy[], unknown: Map<string, number>): void {
  const lines = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter: lines, uniqueKeys: true, strict: true });
  const lineOf = (offset: number | undefined): number => (offset === undefined ? 1 : lines.linePos(offset).line);
  // A stream that is not YAML at all comes back as one EmptyStream with errors.
  const list = Array.isArray(docs) ? docs : [docs];
  for (const doc of list) {
    const err = doc.errors[0];
    if (err !== undefined) throw new PolicyLoadError(file, lineOf(err.pos[0]), `not valid YAML/JSON: ${err.message.split('\n')[0]}`);
    if (doc.contents === null) continue;
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: 100 });
    } catch (e) {
      throw new PolicyLoadError(file, lineOf(doc.contents.range?.[0]), (e as Error).message.split('\n')[0]);
    }
    // An empty document (a trailing `---`, only comments) holds nothing.
    if (value === null || value === undefined) continue;
    addObject(file, value, doc.contents, lineOf, out, unknown);
  }
}

function addObject(file: string, value: unknown, node: YamlNode | null, lineOf: (o: number | undefined) => number, out: LoadedPolicy[], unknown: Map<string, number>): void {
  const line = lineOf(node?.range?.[0]);
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new PolicyLoadError(file, line, 'not a Kubernetes object (expected a mapping with apiVersion and kind)');
  }
  const obj = value as Record<string, unknown>;
  const kind = obj.kind, apiVersion = obj.apiVersion;
  if (typeof kind !== 'string' || typeof apiVersion !== 'string') throw new PolicyLoadError(file, line, 'not a Kubernetes object (no apiVersion or kind)');
  if (kind === 'List' || (kind.endsWith('List') && Array.isArray(obj.items))) {
    if (!Array.isArray(obj.items)) throw new PolicyLoadError(file, line, `${kind} without items`);
    const itemsNode = isMap(node) ? node.get('items', true) : null;
    obj.items.forEach((item, i) => {
      const itemNode = isSeq(itemsNode) ? (itemsNode.items[i] as YamlNode | undefined) ?? null : null;
      addObject(file, item, itemNode, lineOf, out, unknown);
    });
    return;
  }
  const supported = (SUPPORTED as Record<string, (typeof SUPPORTED)[PolicyKind] | undefined>)[kind];
  if (supported === undefined || !supported.apiVersions.includes(apiVersion)) {
    const k = `${apiVersion} ${kind}`;
    unknown.set(k, (unknown.get(k) ?? 0) + 1);
    return;
  }
  const meta = metadataSchema.safeParse(obj.metadata);
  if (!meta.success) throw new PolicyLoadError(file, line, `${kind}: ${issue(meta.error, 'metadata')}`);
  const spec = supported.spec.safeParse(supported.input !== undefined ? supported.input(obj) : obj.spec ?? {});
  if (!spec.success) {
    // Point at the offending field when the YAML tree has it.
    const raw = spec.error.issues[0]?.path ?? [];
    // Cilium's `spec`/`specs` are folded into one list: the error points at the object.
    const path = supported.input !== undefined ? [] : raw;
    const at = isMap(node) ? node.getIn(['spec', ...path.map((p) => (typeof p === 'symbol' ? String(p) : p))], true) as YamlNode | undefined : undefined;
    const l = at !== undefined && at !== null && typeof at === 'object' && 'range' in at ? lineOf(at.range?.[0]) : line;
    throw new PolicyLoadError(file, l, `${kind} ${meta.data.namespace}/${meta.data.name}: ${issue(spec.error, 'spec')}`);
  }
  out.push({
    ref: { kind: kind as PolicyKind, namespace: meta.data.namespace, name: meta.data.name, file: displayPath(file), line },
    spec: spec.data,
    annotations: meta.data.annotations ?? {},
  });
}

function issue(e: z.ZodError, root: string): string {
  const i = e.issues[0];
  const path = [root, ...i.path.map(String)].join('.');
  return `${i.message} (at: ${path})`;
}

/** Paths in reports relative to the working directory when under it (shorter, and stable in tests). */
function displayPath(file: string): string {
  const r = relative(process.cwd(), file);
  return r !== '' && !r.startsWith('..') ? r : file;
}
