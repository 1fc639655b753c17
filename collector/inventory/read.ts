// Reading what `kubectl get ... -o json|yaml` prints: a List, a single object, several YAML
// documents. The document must parse as JSON or YAML (else the whole file is refused); each object
// is then validated on its own, and a malformed one is skipped and counted, never fatal.
import { parseAllDocuments } from 'yaml';
import { log } from '../log.js';
import { parseObject, type K8sObject } from './k8s.js';

export class InventoryFormatError extends Error {
  override name = 'InventoryFormatError';
}

export interface ReadResult {
  objects: K8sObject[];
  /** Objects of a kind we read that failed validation. */
  skipped: number;
  /** Objects of kinds the inventory does not use. */
  ignored: number;
  /** Kinds present in the file (including ignored ones), for the snapshot record. */
  kinds: Set<string>;
}

function documents(text: string, name: string): unknown[] {
  const trimmed = text.trimStart();
  if (trimmed.startsWith('{') || trimmed.startsWith('[')) {
    try {
      return [JSON.parse(text)];
    } catch {
      // Fall through: several concatenated JSON documents are not JSON but may still be YAML.
    }
  }
  let docs;
  try {
    docs = parseAllDocuments(text, { uniqueKeys: false });
  } catch (err) {
    throw new InventoryFormatError(`${name}: not JSON or YAML (${(err as Error).message.split('\n')[0]})`);
  }
  // parseAllDocuments returns an EmptyStream for empty input, documents otherwise.
  const list = Array.isArray(docs) ? docs : [];
  const out: unknown[] = [];
  for (const d of list) {
    if (d.errors.length > 0) throw new InventoryFormatError(`${name}: not JSON or YAML (${d.errors[0].message.split('\n')[0]})`);
    out.push(d.toJS({ maxAliasCount: 100 }));
  }
  return out;
}

/** Parses one file's text into validated Kubernetes objects. Throws InventoryFormatError if it is not JSON/YAML objects. */
export function readInventoryText(text: string, name: string): ReadResult {
  const docs = documents(text, name).filter((d) => d !== null && d !== undefined);
  if (docs.length === 0) throw new InventoryFormatError(`${name}: empty; expected kubectl -o json or -o yaml output`);
  const res: ReadResult = { objects: [], skipped: 0, ignored: 0, kinds: new Set() };
  const items: unknown[] = [];
  for (const d of docs) {
    if (typeof d !== 'object' || Array.isArray(d)) {
      throw new InventoryFormatError(`${name}: not a Kubernetes object or List (a YAML document is a ${Array.isArray(d) ? 'sequence' : typeof d})`);
    }
    const o = d as { kind?: unknown; items?: unknown };
    if (typeof o.kind === 'string' && o.kind.endsWith('List') && Array.isArray(o.items)) items.push(...o.items);
    else items.push(d);
  }
  const warnings = new Map<string, number>();
  for (const [i, raw] of items.entries()) {
    const r = parseObject(raw);
    const kind = typeof (raw as { kind?: unknown } | null)?.kind === 'string' ? (raw as { kind: string }).kind : '?';
    if (!r.ok) {
      res.skipped++;
      // One warning per distinct problem, not per object: a broken export can hold thousands.
      const key = `${kind}: ${r.error}`;
      if (!warnings.has(key)) log.warn({ file: name, item: i, kind, error: r.error }, 'skipping a malformed inventory object');
      warnings.set(key, (warnings.get(key) ?? 0) + 1);
      continue;
    }
    res.kinds.add(kind);
    if (r.value === null) res.ignored++;
    else res.objects.push(r.value);
  }
  return res;
}
