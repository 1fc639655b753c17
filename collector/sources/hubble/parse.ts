// One `hubble observe -o json|jsonpb` line → a typed flow. Lines are GetFlowsResponse objects
// ({flow, node_name, time}) or bare Flow objects; -o json uses proto field names (source_port),
// protojson uses lowerCamelCase (sourcePort): keys are normalised to snake_case first. Field names
// follow cilium/cilium api/v1/flow/flow.proto.
import { isIP } from 'node:net';
import { z } from 'zod';

const str = z.string().nullish().transform((s) => s ?? '');
// An address is stored, keyed on and written into policies as it is: a flow whose address is not one is malformed.
const ip = z.string().refine((s) => isIP(s) !== 0);
const port = z.number().int().min(0).max(65535).nullish().transform((p) => p ?? 0);

const endpoint = z.looseObject({
  identity: z.number().nullish(),
  namespace: str,
  pod_name: str,
  labels: z.array(z.string()).nullish().transform((l) => l ?? []),
  workloads: z.array(z.looseObject({ name: str, kind: str })).nullish().transform((w) => w ?? []),
}).nullish();

const flowSchema = z.looseObject({
  time: z.string().nullish(),
  verdict: z.union([z.string(), z.number()]).nullish(),
  IP: z.looseObject({ source: ip, destination: ip }).nullish(),
  l4: z.looseObject({
    TCP: z.looseObject({
      source_port: port, destination_port: port,
      flags: z.record(z.string(), z.boolean()).nullish().transform((f) => f ?? {}),
    }).nullish(),
    UDP: z.looseObject({ source_port: port, destination_port: port }).nullish(),
  }).nullish(),
  source: endpoint,
  destination: endpoint,
  Type: z.union([z.string(), z.number()]).nullish(),
  node_name: str,
  is_reply: z.boolean().nullish(),
  reply: z.boolean().nullish(),
  traffic_direction: z.union([z.string(), z.number()]).nullish(),
  l7: z.looseObject({
    type: z.union([z.string(), z.number()]).nullish(),
    http: z.looseObject({
      method: str, url: str, protocol: str, code: z.number().nullish(),
      headers: z.array(z.looseObject({ key: z.string(), value: z.string().nullish() })).nullish(),
    }).nullish(),
    dns: z.looseObject({ query: str }).nullish(),
  }).nullish(),
});
export type HubbleFlow = z.infer<typeof flowSchema>;

const lineSchema = z.looseObject({ flow: flowSchema.optional(), node_name: str, time: z.string().nullish() });

function snake(k: string): string {
  // Leave proto message names (IP, TCP, Type, Summary) as they are; only lowerCamel keys change.
  return /^[a-z][a-zA-Z0-9]*$/.test(k) ? k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`) : k;
}

function normalise(v: unknown, depth = 0): unknown {
  if (depth > 12 || v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) return v.map((x) => normalise(x, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) out[snake(k)] = normalise(x, depth + 1);
  return out;
}

export interface ParsedFlow {
  flow: HubbleFlow;
  tsMs: number;
  node: string;
}

/** Parses one line; null when it is not a flow. Never throws. */
export function parseHubbleLine(line: string): ParsedFlow | null {
  const t = line.trim();
  if (!t.startsWith('{')) return null;
  let raw: unknown;
  try {
    raw = JSON.parse(t);
  } catch {
    return null;
  }
  const norm = normalise(raw) as Record<string, unknown>;
  // A GetFlowsResponse wraps the flow; a bare Flow has IP/l4 at the top.
  const wrapped = lineSchema.safeParse(norm);
  let flow: HubbleFlow;
  let node = '';
  let time: string | null | undefined;
  if (wrapped.success && wrapped.data.flow !== undefined) {
    flow = wrapped.data.flow;
    node = wrapped.data.node_name || flow.node_name;
    time = flow.time ?? wrapped.data.time;
  } else if (norm.flow !== undefined) {
    // A GetFlowsResponse whose flow is not one (an address that is not an address, a port out of
    // range): malformed, not a flow without addresses.
    return null;
  } else {
    const bare = flowSchema.safeParse(norm);
    if (!bare.success) return null;
    flow = bare.data;
    node = flow.node_name;
    time = flow.time;
  }
  if (!time) return null;
  const tsMs = Date.parse(time);
  if (Number.isNaN(tsMs)) return null;
  return { flow, tsMs, node };
}
