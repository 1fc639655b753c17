// Test helpers for the simulator: peers and calls built by hand (the evaluators are pure), and
// policy text written to real files so every test goes through the loader.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { loadPolicies } from '../../../analyzer/simulate/load.js';
import type { LoadResult, Peer, SimCall } from '../../../analyzer/simulate/model.js';

export function workload(ns: string, name: string, over: Partial<Peer> = {}): Peer {
  return {
    id: `${ns}/${name}`, kind: 'workload', namespace: ns, labels: { app: name }, namespaceLabels: { 'kubernetes.io/metadata.name': ns },
    serviceAccount: name, node: 'node-1', ip: '10.1.0.1', namedPorts: [], isNamedPortsComplete: true, ...over,
  };
}

export function call(source: Peer, destination: Peer, over: Partial<SimCall> = {}): SimCall {
  return {
    source, destination, port: 8080, transport: 'tcp', protocol: 'http', method: 'GET', path: '/', host: null, sni: null,
    security: 'mtls', via_service: true, count: 1, first_seen: '2026-01-01T00:00:00.000Z', last_seen: '2026-01-01T00:00:00.000Z', ...over,
  };
}

/** Writes the text (YAML or JSON) to a temporary file and loads it; the file is removed after. */
export function loadText(text: string, name = 'policies.yaml'): LoadResult {
  const dir = mkdtempSync(join(tmpdir(), 'trustmap-sim-'));
  try {
    writeFileSync(join(dir, name), text);
    return loadPolicies([join(dir, name)]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Objects → a multi-document YAML stream → loaded. */
export const loadObjects = (objects: object[]): LoadResult => loadText(objects.map((o) => `---\n${stringify(o)}`).join(''));
