// The side panel for one node: who it is, its readiness verdict and blockers, the calls into and
// out of it, and (for workloads) its proposed policy in every format with copy and download.
import type { EdgeCall, GraphNode, Level, WorkloadReadiness } from '../../analyzer/model.js';
import type { NodeDetails, PeerCalls, SimulatedFormat, Summary, WorkloadDenied } from '../api/types.js';
import { SIMULATED_FORMATS } from '../api/types.js';
import { api, ApiError } from './api-client.js';
import { add, clear, shortTime, table, viewLink, type Sel } from './dom.js';

export interface PanelEvents {
  close(): void;
  focus(id: string): void;
  /** The URL of the view that focus(id) shows. */
  href(id: string): string;
}

function securityCell(c: EdgeCall): (td: Sel) => void {
  return (td) => {
    add(td, 'span', `badge sec-${c.security}`, c.security);
    if (c.credentials_in_plaintext) add(td, 'span', 'badge warn', 'credentials').attr('title', 'a credential travelled in plaintext');
  };
}

/** "1 call", "2,046 calls". */
function count(n: number, one: string, many: string): string {
  return `${n.toLocaleString('en')} ${n === 1 ? one : many}`;
}

/** "refused by Cilium: 2 of 3 calls (Hubble DROPPED)": what Hubble's verdicts say of `count` calls. */
function refusedText(dropped: number, count: number): string {
  return `refused by Cilium: ${dropped.toLocaleString('en')} of ${count.toLocaleString('en')} ${count === 1 ? 'call' : 'calls'} (Hubble DROPPED)`;
}

function callsTable(parent: Sel, peers: PeerCalls[], peerHeading: string, events: PanelEvents, cls: string): void {
  if (peers.length === 0) {
    add(parent, 'p', 'muted', 'None in this window.');
    return;
  }
  // The peers some of whose calls the cluster's policy refuses today: proposals leave out the
  // calls refused every time (docs/policies.md), so say why such a peer may be missing from them.
  const refused = peers.filter((p) => p.dropped > 0);
  if (refused.length > 0) {
    const list = add(parent, 'ul', `refused ${cls}`);
    for (const p of refused) add(list, 'li', 'warn-text', `${p.peer}: ${refusedText(p.dropped, p.count)}`).attr('data-peer', p.peer);
  }
  const rows = peers.flatMap((p) => p.calls.map((c) => [
    (td: Sel) => { viewLink(td, 'peer', p.peer, events.href(p.peer), () => events.focus(p.peer)); },
    (td: Sel) => {
      if (c.method) add(td, 'span', 'method', c.method);
      add(td, 'span', 'path', c.path ?? (c.sni ? `SNI ${c.sni}` : '–'));
      if (c.host) add(td, 'div', 'muted small host', `host ${c.host}`);
      if ((c.dropped ?? 0) > 0) add(td, 'div', 'small warn-text refused-call', refusedText(c.dropped!, c.count));
    },
    `${c.port}/${c.protocol}`,
    c.count.toLocaleString('en'),
    securityCell(c),
    shortTime(c.last_seen),
  ]));
  table(parent, `calls ${cls}`, [peerHeading, 'request', 'port', 'calls', 'security', 'last seen'], rows);
}

export async function renderPanel(host: Sel, id: string, level: Level, window: URLSearchParams, summary: Summary, events: PanelEvents, signal: AbortSignal): Promise<void> {
  clear(host).attr('hidden', null).attr('aria-busy', 'true');
  const head = add(host, 'div', 'panel-head');
  // Focusable from script only: a node chosen with the keyboard moves the focus here.
  add(head, 'h2', 'panel-title', id).attr('tabindex', -1);
  add(head, 'button', 'close', '×').attr('type', 'button').attr('aria-label', 'close the panel').on('click', () => events.close());
  const body = add(host, 'div', 'panel-body');
  add(body, 'p', 'muted', 'Loading…');
  let d: NodeDetails;
  try {
    d = await api.node(id, level, window, signal);
  } catch (err) {
    if ((err as Error).name === 'AbortError') return;
    clear(body);
    add(body, 'p', 'error', err instanceof ApiError ? err.message : 'Could not load this node.');
    host.attr('aria-busy', null);
    return;
  }
  clear(body);
  host.attr('aria-busy', null);
  const n = d.node;
  const facts = add(body, 'dl', 'facts');
  const fact = (k: string, v: string | null) => { if (v) { add(facts, 'dt', undefined, k); add(facts, 'dd', undefined, v); } };
  fact('kind', n.workload_kind ? `${n.kind} (${n.workload_kind})` : n.kind);
  fact('namespace', n.namespace);
  fact('service account', n.service_account);
  fact('identity', n.spiffe);
  fact('addresses', n.addresses.join(', '));
  fact('not attributed because', n.reason);

  const ready = add(body, 'section', 'readiness');
  add(ready, 'h3', undefined, 'Strict mTLS readiness');
  if (n.kind !== 'workload') {
    add(ready, 'p', 'muted', 'Readiness is judged per workload.');
  } else if (!d.features.readiness) {
    add(ready, 'p', 'muted', 'The readiness check is not available in this build.');
  } else {
    void renderVerdict(ready, n, window, signal);
  }

  add(body, 'h3', undefined, `Inbound (${count(d.callers.length, 'caller', 'callers')})`);
  callsTable(body, d.callers, 'caller', events, 'inbound');
  add(body, 'h3', undefined, `Outbound (${count(d.callees.length, 'callee', 'callees')})`);
  callsTable(body, d.callees, 'callee', events, 'outbound');

  if (n.kind === 'workload') renderPolicies(body, n.id, window, summary, signal);
}

/** The workload's verdict and blockers, from the readiness report for this window. */
async function renderVerdict(host: Sel, n: GraphNode, window: URLSearchParams, signal: AbortSignal): Promise<void> {
  const wait = add(host, 'p', 'muted', 'Checking readiness…');
  let r: WorkloadReadiness | null;
  try {
    const report = await api.readiness(window, signal);
    const ns = report.namespaces.find((x) => x.namespace === n.namespace);
    r = ns?.workloads.find((w) => w.name === n.name || w.name === n.id) ?? null;
  } catch (err) {
    if ((err as Error).name === 'AbortError') return;
    wait.attr('class', 'error').text(err instanceof ApiError ? err.message : 'Could not check readiness.');
    return;
  }
  wait.remove();
  if (r === null) {
    add(host, 'p', 'muted', 'No verdict for this workload in this window.');
    return;
  }
  const line = add(host, 'p', 'verdict-line');
  add(line, 'span', `verdict v-${r.verdict}`, r.verdict);
  add(line, 'span', 'muted', ` ${r.coverage.calls.toLocaleString('en')} calls observed, ${shortTime(r.coverage.observed_from)} – ${shortTime(r.coverage.observed_to)}`);
  if (r.blockers.length === 0) add(host, 'p', undefined, 'No blockers.');
  const list = add(host, 'ul', 'blockers');
  for (const b of r.blockers) {
    const li = add(list, 'li');
    add(li, 'span', 'badge blocker', b.kind);
    add(li, 'span', undefined, ` ${b.detail}`);
    if (b.sources.length) add(li, 'div', 'muted small', `from ${b.sources.join(', ')} · ${count(b.count, 'call', 'calls')} · last ${shortTime(b.last_seen)}`);
  }
}

function renderPolicies(body: Sel, workload: string, window: URLSearchParams, summary: Summary, signal: AbortSignal): void {
  const sec = add(body, 'section', 'policies');
  add(sec, 'h3', undefined, 'Proposed policies');
  const formats = summary.features.policy_formats;
  if (!summary.features.policies || formats.length === 0) {
    add(sec, 'p', 'muted', 'Policy proposals are not available in this build.');
    return;
  }
  const tabs = add(sec, 'div', 'tabs').attr('role', 'tablist').attr('aria-label', 'policy format');
  const pane = add(sec, 'div', 'tab-pane').attr('role', 'tabpanel');
  let shown = '';
  const show = async (format: string) => {
    shown = format;
    tabs.selectAll('button').attr('aria-selected', function () { return String((this as HTMLElement).dataset.format === format); });
    clear(pane);
    add(pane, 'p', 'muted', 'Loading…');
    try {
      const p = await api.workloadPolicy(format, workload, window, signal);
      // A quicker click on another tab has taken the pane meanwhile.
      if (shown !== format) return;
      clear(pane);
      for (const b of p.blockers) add(pane, 'p', 'warn-text', `Held back: ${b.reason} (callers: ${b.callers.join(', ') || 'none'})`);
      if (p.yaml === null) { add(pane, 'p', 'muted', `No ${format} policy proposed for this workload.`); return; }
      const yaml = p.yaml;
      const bar = add(pane, 'div', 'actions');
      const copy = add(bar, 'button', 'copy', 'Copy').attr('type', 'button');
      copy.on('click', () => {
        copyText(yaml).then((ok) => copy.text(ok ? 'Copied' : 'Copy failed'), () => copy.text('Copy failed'));
      });
      add(bar, 'a', 'button download', 'Download YAML').attr('href', api.policyDownloadUrl(format, workload, window)).attr('download', '');
      const denied = add(pane, 'div', 'denied').attr('data-format', format);
      add(pane, 'pre', 'yaml').attr('data-format', format).attr('tabindex', 0).text(yaml);
      offerSimulation(denied, format, workload, window, signal);
    } catch (err) {
      if ((err as Error).name === 'AbortError' || shown !== format) return;
      clear(pane);
      add(pane, 'p', 'error', err instanceof ApiError ? err.message : 'Could not load the policy.');
    }
  };
  for (const f of formats) {
    add(tabs, 'button', 'tab', f).attr('type', 'button').attr('role', 'tab').attr('data-format', f).on('click', () => { void show(f); });
  }
  void show(formats[0]);
}

/**
 * What the proposed policy would break, on request: replaying the calls takes up to a second or
 * more on a large store (0.5–1.0 s per workload and format at 1,000 workloads, docs/ui.md) and
 * holds the server meanwhile, so it runs when asked, not on every click.
 */
function offerSimulation(host: Sel, format: string, workload: string, window: URLSearchParams, signal: AbortSignal): void {
  const simulated = SIMULATED_FORMATS.find((f) => f === format);
  if (simulated === undefined) {
    add(host, 'p', 'muted small', `The simulator does not evaluate ${format} policies, so what they would deny is not checked here.`);
    return;
  }
  const ask = add(host, 'button', 'simulate', 'What would this policy deny?').attr('type', 'button')
    .attr('title', 'replay this window\'s calls of the workload against the proposed policies');
  ask.on('click', () => { ask.remove(); void renderDenied(host, simulated, workload, window, signal); });
}

/**
 * This workload's calls of the window replayed against the format's proposed policies (the
 * simulator, docs/simulate.md): denied and undecidable ones listed with the policy and reason.
 */
async function renderDenied(host: Sel, format: SimulatedFormat, workload: string, window: URLSearchParams, signal: AbortSignal): Promise<void> {
  const wait = add(host, 'p', 'muted', 'Replaying this window\'s calls against the proposed policies…');
  let d: WorkloadDenied;
  try {
    d = await api.denied(format, workload, window, signal);
  } catch (err) {
    if ((err as Error).name === 'AbortError') return;
    wait.attr('class', 'error').text(err instanceof ApiError ? `Could not simulate: ${err.message}` : 'Could not simulate the policies.');
    return;
  }
  wait.remove();
  const s = d.summary;
  const isClean = s.denied === 0 && s.indeterminate === 0;
  add(host, 'p', isClean ? 'denied-line ok-text' : 'denied-line warn-text', isClean
    ? `Applied, these policies would allow all ${s.requests.toLocaleString('en')} calls of this window.`
    : `Applied, these policies would deny ${s.denied.toLocaleString('en')} and leave ${s.indeterminate.toLocaleString('en')} undecided of the ${s.requests.toLocaleString('en')} calls of this window:`);
  if (isClean) return;
  table(host, 'denied-calls', ['caller', 'request', 'port', 'calls', 'verdict', 'why'], d.calls.map((c) => [
    c.source,
    [c.method, c.path].filter((x) => x !== null).join(' ') || '–',
    `${c.port}/${c.protocol}`,
    c.count.toLocaleString('en'),
    (td: Sel) => { add(td, 'span', `badge verdict-${c.verdict}`, c.verdict); },
    (td: Sel) => {
      for (const f of c.findings) {
        add(td, 'div', undefined, `${f.reason}${f.policy ? ` (${f.policy.kind} ${f.policy.namespace}/${f.policy.name})` : ''}`);
      }
    },
  ]));
}

/** The Clipboard API needs a secure context (http://127.0.0.1 is one, a LAN address is not): fall back to a selection. */
async function copyText(text: string): Promise<boolean> {
  if (navigator.clipboard && window.isSecureContext) {
    await navigator.clipboard.writeText(text);
    return true;
  }
  const ta = document.createElement('textarea');
  ta.value = text;
  ta.setAttribute('readonly', '');
  ta.className = 'offscreen';
  document.body.append(ta);
  ta.select();
  const ok = document.execCommand('copy');
  ta.remove();
  return ok;
}

