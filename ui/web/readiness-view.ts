// The readiness overview: every namespace and workload with its strict-mTLS verdict and blocker
// count, sortable by any column, each row linking into the map.
import type { ReadinessReport, Verdict } from '../../analyzer/model.js';
import { add, clear, shortTime, viewLink, type Sel } from './dom.js';

export interface ReadinessEvents {
  /** Opens the map on a workload (its panel) or a namespace (filtered). */
  openWorkload(id: string): void;
  openNamespace(ns: string): void;
  /** The URLs of the views openWorkload and openNamespace show. */
  workloadHref(id: string): string;
  namespaceHref(ns: string): string;
  sort(sort: string): void;
  /** Judges the whole recording again (the map's toolbar, where the window is set, is not on this view). */
  wholeRecording(): void;
}

/** "whole recording", "from A", "until B" or "A – B": which calls the verdicts are judged on. */
export function windowText(since: string | null, until: string | null): string {
  if (since === null && until === null) return 'whole recording';
  if (until === null) return `from ${shortTime(since)}`;
  if (since === null) return `until ${shortTime(until)}`;
  return `${shortTime(since)} – ${shortTime(until)}`;
}

/** The window line above the verdicts, with a way back to the whole recording when narrowed. */
function renderWindowLine(host: Sel, since: string | null, until: string | null, events: Pick<ReadinessEvents, 'wholeRecording'>): void {
  const line = add(host, 'p', 'window-line muted', `Window: ${windowText(since, until)}`);
  if (since !== null || until !== null) {
    line.append('span').text(' ');
    add(line, 'button', 'link whole-recording', 'judge the whole recording').attr('type', 'button').on('click', () => events.wholeRecording());
  }
}

interface Row {
  namespace: string;
  workload: string;
  id: string;
  verdict: Verdict;
  blockers: number;
  kinds: string;
  calls: number;
  observed_to: string | null;
}

const VERDICT_ORDER: Record<Verdict, number> = { blocked: 0, 'insufficient-data': 1, ready: 2 };

const COLUMNS: Array<{ key: keyof Row; label: string; numeric?: boolean }> = [
  { key: 'namespace', label: 'namespace' }, { key: 'workload', label: 'workload' }, { key: 'verdict', label: 'verdict' },
  { key: 'blockers', label: 'blockers', numeric: true }, { key: 'kinds', label: 'blocker kinds' },
  { key: 'calls', label: 'calls observed', numeric: true }, { key: 'observed_to', label: 'last seen' },
];

function rowsOf(r: ReadinessReport): Row[] {
  return r.namespaces.flatMap((ns) => ns.workloads.map((w) => ({
    namespace: ns.namespace,
    workload: w.name.includes('/') ? w.name.slice(w.name.indexOf('/') + 1) : w.name,
    id: w.name.includes('/') ? w.name : `${ns.namespace}/${w.name}`,
    verdict: w.verdict,
    blockers: w.blockers.length,
    kinds: [...new Set(w.blockers.map((b) => b.kind))].sort().join(', '),
    calls: w.coverage.calls,
    observed_to: w.coverage.observed_to,
  })));
}

function compare(key: keyof Row): (a: Row, b: Row) => number {
  if (key === 'verdict') return (a, b) => VERDICT_ORDER[a.verdict] - VERDICT_ORDER[b.verdict];
  return (a, b) => {
    const x = a[key], y = b[key];
    if (typeof x === 'number' && typeof y === 'number') return x - y;
    return String(x ?? '').localeCompare(String(y ?? ''));
  };
}

export function renderReadiness(host: Sel, report: ReadinessReport, sort: string | null, window: { since: string | null; until: string | null }, events: ReadinessEvents): void {
  clear(host);
  const top = add(host, 'div', 'readiness-head');
  add(top, 'h2', undefined, 'Strict mTLS readiness');
  const overall = add(top, 'p');
  add(overall, 'span', undefined, 'Overall: ');
  add(overall, 'span', `verdict v-${report.verdict}`, report.verdict);
  renderWindowLine(top, window.since, window.until, events);

  const nsTable = add(host, 'table', 'ns-readiness');
  const nsHead = add(add(nsTable, 'thead'), 'tr');
  for (const h of ['namespace', 'verdict', 'workloads', 'blocked', 'blockers']) {
    add(nsHead, 'th', ['workloads', 'blocked', 'blockers'].includes(h) ? 'num' : undefined, h).attr('scope', 'col');
  }
  const nsBody = add(nsTable, 'tbody');
  for (const ns of [...report.namespaces].sort((a, b) => VERDICT_ORDER[a.verdict] - VERDICT_ORDER[b.verdict] || a.namespace.localeCompare(b.namespace))) {
    const tr = add(nsBody, 'tr').attr('data-namespace', ns.namespace).attr('data-verdict', ns.verdict);
    viewLink(add(tr, 'td'), 'ns-link', ns.namespace, events.namespaceHref(ns.namespace), () => events.openNamespace(ns.namespace));
    add(add(tr, 'td'), 'span', `verdict v-${ns.verdict}`, ns.verdict);
    add(tr, 'td', 'num', String(ns.workloads.length));
    add(tr, 'td', 'num', String(ns.workloads.filter((w) => w.verdict === 'blocked').length));
    add(tr, 'td', 'num', String(ns.workloads.reduce((s, w) => s + w.blockers.length, 0)));
  }

  add(host, 'h3', undefined, 'Workloads');
  const [key, dir] = (sort ?? 'verdict-asc').split('-') as [keyof Row, 'asc' | 'desc'];
  const col = COLUMNS.find((c) => c.key === key) ?? COLUMNS[2];
  const rows = rowsOf(report);
  const cmp = compare(col.key);
  const tie = compare('id');
  rows.sort((a, b) => (dir === 'desc' ? -cmp(a, b) : cmp(a, b)) || tie(a, b));
  const t = add(host, 'table', 'wl-readiness');
  const head = add(add(t, 'thead'), 'tr');
  for (const c of COLUMNS) {
    const isSorted = c.key === col.key;
    const th = add(head, 'th', c.numeric ? 'num' : undefined).attr('scope', 'col').attr('aria-sort', isSorted ? (dir === 'asc' ? 'ascending' : 'descending') : 'none');
    add(th, 'button', 'sort', `${c.label}${isSorted ? (dir === 'asc' ? ' ▲' : ' ▼') : ''}`).attr('type', 'button')
      .on('click', () => events.sort(`${c.key}-${isSorted && dir === 'asc' ? 'desc' : 'asc'}`));
  }
  const body = add(t, 'tbody');
  if (rows.length === 0) add(add(body, 'tr'), 'td', 'muted', 'No workloads in this window.').attr('colspan', COLUMNS.length);
  for (const r of rows) {
    const tr = add(body, 'tr').attr('data-id', r.id);
    add(tr, 'td', undefined, r.namespace);
    viewLink(add(tr, 'td'), 'wl-link', r.workload, events.workloadHref(r.id), () => events.openWorkload(r.id));
    add(add(tr, 'td'), 'span', `verdict v-${r.verdict}`, r.verdict);
    add(tr, 'td', 'num', String(r.blockers));
    add(tr, 'td', undefined, r.kinds || '–');
    add(tr, 'td', 'num', r.calls.toLocaleString('en'));
    add(tr, 'td', undefined, shortTime(r.observed_to));
  }
}
