// The JSON API under /api/. Each handler: zod-parse its parameters (400 on anything off), ask the
// analyzer through `Analysis`, shape the answer. Responses are never cached by the browser (the
// store changes under a running server as collectors write); the analyzer's answers are reused
// only until the store changes (memo.ts).
import express, { type Request, type Response, type Router } from 'express';
import type { Graph, GraphQuery, Level } from '../../analyzer/model.js';
import { iterateCalls, listCalls } from '../../collector/store/calls.js';
import { listCaptures } from '../../collector/store/captures.js';
import type { Db } from '../../collector/store/db.js';
import type { Analysis, PolicySet } from './analysis.js';
import { callsQuery, deniedQuery, graphQuery, nodeQuery, parseNone, policyFormatPath, policyQuery, readinessQuery, workloadPath, workloadQuery } from './params.js';
import { StoreMemo } from './memo.js';
import { HttpProblem, parseOr400 } from './problem.js';
import type { NodeDetails, Summary, WorkloadDenied, WorkloadPolicy } from './types.js';
import { applyFilter, neighbourhood } from './view.js';

export interface ApiContext {
  db: Db;
  analysis: Analysis;
  /** Readiness needs this much observed time before it says "ready" (serve --min-window). */
  minWindowMs: number;
  trustDomain?: string;
  /** The server has a token (off loopback): the page offers to sign out. */
  hasSignIn?: boolean;
}

function send(res: Response, body: unknown): void {
  res.setHeader('Cache-Control', 'no-store');
  res.json(body);
}

/** A loss count summed over captures; null when no capture records it (unknown, not zero). */
function sumOrNull<T>(captures: readonly T[], pick: (c: T) => number | null): number | null {
  return captures.some((c) => pick(c) !== null) ? captures.reduce((n, c) => n + (pick(c) ?? 0), 0) : null;
}

export function apiRouter(ctx: ApiContext): Router {
  const r = express.Router();
  const { db, analysis } = ctx;
  const memo = new StoreMemo(db);
  const checkReadiness = analysis.checkReadiness;

  const readiness = (q: { namespaces?: string[]; sinceMs?: number; untilMs?: number; minWindowMs?: number; trustDomain?: string }) => {
    if (checkReadiness === null) return null;
    const opts = {
      namespaces: q.namespaces, sinceMs: q.sinceMs, untilMs: q.untilMs,
      minWindowMs: q.minWindowMs ?? ctx.minWindowMs, trustDomain: q.trustDomain ?? ctx.trustDomain,
    };
    return memo.get(`readiness ${JSON.stringify(opts)}`, () => checkReadiness(db, opts));
  };

  const policies = (format: string, q: { namespaces?: string[]; sinceMs?: number; untilMs?: number; granularity?: string; trustDomain?: string; istioVersion?: string; dryRun?: boolean }): PolicySet => {
    if (analysis.proposePolicies === null) throw new HttpProblem(501, 'policy proposals are not available in this build yet');
    if (!analysis.policyFormats.includes(format)) {
      throw new HttpProblem(400, `unknown policy format "${format}"; one of: ${analysis.policyFormats.join(', ')} (at: path.format)`, 'urn:trustmap:problem:invalid-parameter');
    }
    const propose = analysis.proposePolicies;
    // The server's --min-window decides PeerAuthentication STRICT, as it decides the readiness page.
    const opts = { format, ...q, trustDomain: q.trustDomain ?? ctx.trustDomain, minWindowMs: ctx.minWindowMs };
    return memo.get(`policies ${JSON.stringify(opts)}`, () => propose(db, opts));
  };

  const graph = (q: Omit<GraphQuery, 'trustDomain'>): Graph => {
    const query: GraphQuery = { ...q, trustDomain: ctx.trustDomain };
    return memo.get(`graph ${JSON.stringify(query)}`, () => analysis.buildGraph(db, query));
  };
  const workloadGraph = (sinceMs?: number, untilMs?: number): Graph => graph({ level: 'workload', sinceMs, untilMs });

  r.get('/summary', (req, res) => {
    parseOr400(parseNone, req.query, 'query');
    const { rows, calls } = memo.get('call totals', () => {
      let n = 0, sum = 0;
      for (const c of iterateCalls(db)) { n++; sum += c.count; }
      return { rows: n, calls: sum };
    });
    const g = workloadGraph();
    const namespaces = [...new Set(g.nodes.flatMap((n) => (n.namespace === null ? [] : [n.namespace])))].sort();
    const captures = listCaptures(db);
    const body: Summary = {
      counts: {
        calls, call_rows: rows, nodes: g.nodes.length, edges: g.edges.length, namespaces: namespaces.length, captures: captures.length,
        // Kernel drops of live captures: the map may miss calls when this is above zero.
        dropped: sumOrNull(captures, (c) => c.dropped),
        spool_dropped_calls: sumOrNull(captures, (c) => c.spoolDroppedCalls),
        // Without DROPPED verdicts the policies may allow calls Cilium refuses.
        spool_dropped_verdicts: sumOrNull(captures, (c) => c.spoolDroppedVerdicts),
      },
      window: { first_seen: g.window.first_seen, last_seen: g.window.last_seen },
      namespaces,
      captures: captures.map((c) => ({
        id: c.id, source: c.source, name: c.name, node: c.node || null, packets: c.packets, malformed: c.malformed,
        connections: c.connections, calls_written: c.callsWritten, dropped: c.dropped, spool_dropped_calls: c.spoolDroppedCalls, spool_dropped_verdicts: c.spoolDroppedVerdicts, status: c.status, started_at: c.startedAt, finished_at: c.finishedAt,
      })),
      features: { readiness: analysis.checkReadiness !== null, policies: analysis.proposePolicies !== null, policy_formats: [...analysis.policyFormats], sign_in: ctx.hasSignIn ?? false },
      min_window_ms: ctx.minWindowMs,
    };
    send(res, body);
  });

  r.get('/graph', (req, res) => {
    const q = parseOr400(graphQuery, req.query, 'query');
    // The serialised answer is memoised too: JSON.stringify of a 5,000-edge graph (4 MB) alone
    // takes 20–35 ms.
    const body = memo.get(`graph json ${JSON.stringify(q)}`, () => {
      const g = graph({ level: q.level, sinceMs: q.since, untilMs: q.until, namespaces: q.namespace });
      return JSON.stringify(applyFilter(g, { protocols: q.protocol, securities: q.security, hideInfra: q.hide_infra }, q.namespace ?? []));
    });
    res.setHeader('Cache-Control', 'no-store');
    res.type('json').send(body);
  });

  const details = (res: Response, id: string, q: { since?: number; until?: number; readiness: boolean; level?: Level }) => {
    const g = graph({ level: q.level ?? 'workload', sinceMs: q.since, untilMs: q.until });
    const n = neighbourhood(g, id);
    if (n === null) throw new HttpProblem(404, `no node ${JSON.stringify(id)} in the graph for this window`);
    let verdict: NodeDetails['namespace_readiness'] = null;
    let workload: NodeDetails['readiness'] = null;
    if (q.readiness && n.node.kind === 'workload' && n.node.namespace !== null) {
      // The whole report (readiness reads the whole graph either way), so every click in this
      // window reuses one memoised answer.
      const report = readiness({ sinceMs: q.since, untilMs: q.until });
      const ns = report?.namespaces.find((x) => x.namespace === n.node.namespace);
      if (ns) verdict = { namespace: ns.namespace, verdict: ns.verdict };
      workload = ns?.workloads.find((w) => w.name === n.node.name || w.name === n.node.id) ?? null;
    }
    const body: NodeDetails = { ...n, readiness: workload, namespace_readiness: verdict, features: { readiness: analysis.checkReadiness !== null } };
    send(res, body);
  };

  r.get('/workloads/:namespace/:name', (req, res) => {
    const p = parseOr400(workloadPath, req.params, 'path');
    details(res, `${p.namespace}/${p.name}`, parseOr400(workloadQuery, req.query, 'query'));
  });

  // The proposed policies replayed against this workload's calls: the panel's "would be denied".
  r.get('/workloads/:namespace/:name/denied', (req, res) => {
    const p = parseOr400(workloadPath, req.params, 'path');
    const q = parseOr400(deniedQuery, req.query, 'query');
    const simulatePolicies = analysis.simulatePolicies;
    if (simulatePolicies == null) throw new HttpProblem(501, 'policy simulation is not available in this build');
    const id = `${p.namespace}/${p.name}`;
    if (!workloadGraph(q.since, q.until).nodes.some((n) => n.id === id && n.kind === 'workload')) {
      throw new HttpProblem(404, `no workload ${JSON.stringify(id)} in the graph for this window`);
    }
    const set = policies(q.format, { sinceMs: q.since, untilMs: q.until });
    const report = memo.get(`denied ${JSON.stringify([q.format, id, q.since, q.until])}`,
      () => simulatePolicies(db, set.files, p, { sinceMs: q.since, untilMs: q.until, trustDomain: ctx.trustDomain }));
    const body: WorkloadDenied = { format: q.format, workload: id, ...report, calls: report.calls.filter((c) => c.verdict !== 'allowed') };
    send(res, body);
  });

  r.get('/node', (req, res) => {
    const q = parseOr400(nodeQuery, req.query, 'query');
    details(res, q.id, q);
  });

  r.get('/readiness', (req, res) => {
    const q = parseOr400(readinessQuery, req.query, 'query');
    const report = readiness({ namespaces: q.namespace, sinceMs: q.since, untilMs: q.until, minWindowMs: q.min_window, trustDomain: q.trust_domain });
    if (report === null) throw new HttpProblem(501, 'the readiness check is not available in this build yet');
    send(res, report);
  });

  r.get('/policies/formats', (req, res) => {
    parseOr400(parseNone, req.query, 'query');
    send(res, { formats: analysis.policyFormats });
  });

  const policyArgs = (req: Request) => {
    const { format } = parseOr400(policyFormatPath, req.params, 'path');
    const q = parseOr400(policyQuery, req.query, 'query');
    const set = policies(format, {
      namespaces: q.workload ? [q.workload.namespace] : q.namespace, sinceMs: q.since, untilMs: q.until,
      granularity: q.granularity, trustDomain: q.trust_domain, istioVersion: q.istio_version, dryRun: q.dry_run,
    });
    return { format, q, set };
  };

  r.get('/policies/:format', (req, res) => {
    const { q, set } = policyArgs(req);
    if (!q.workload) { send(res, set); return; }
    const yaml = set.workloads[q.workload.id] ?? null;
    const id = q.workload.id;
    const body: WorkloadPolicy = { format: set.format, workload: id, yaml, blockers: set.blockers.filter((b) => b.workload === id) };
    send(res, body);
  });

  r.get('/policies/:format/download', (req, res) => {
    const { format, q, set } = policyArgs(req);
    let yaml: string;
    let name: string;
    if (q.workload) {
      const y = set.workloads[q.workload.id];
      if (y === undefined) throw new HttpProblem(404, `no ${format} policy proposed for ${q.workload.id}`);
      yaml = y;
      name = `${q.workload.namespace}-${q.workload.name}`;
    } else {
      const files = [...set.files].sort((a, b) => a.namespace.localeCompare(b.namespace) || a.filename.localeCompare(b.filename));
      yaml = files.map((f) => f.yaml.replace(/\n*$/, '\n')).join('---\n');
      name = q.namespace?.length === 1 ? q.namespace[0] : 'all';
    }
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('Content-Type', 'application/yaml; charset=utf-8');
    // Only [a-z0-9.-] reach the file name (validated above), so no quoting games are possible.
    res.setHeader('Content-Disposition', `attachment; filename="trustmap-${format}-${name}.yaml"`);
    res.send(yaml);
  });

  r.get('/calls', (req, res) => {
    const q = parseOr400(callsQuery, req.query, 'query');
    send(res, listCalls(db, { sinceMs: q.since, untilMs: q.until, limit: q.limit }));
  });

  return r;
}
