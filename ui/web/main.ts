// The page: reads the view from the URL, loads the summary and the graph from the API, lays the
// graph out and draws it, and keeps the URL in step with every filter and selection. Clear
// states instead of blank areas: loading, empty store, nothing matching, server unreachable,
// graphs too big to draw whole.
import './style.css';
import type { Graph, NodeKind } from '../../analyzer/model.js';
import { NODE_KINDS } from '../../analyzer/model.js';
import type { CaptureSummary, Summary } from '../api/types.js';
import { api, ApiError } from './api-client.js';
import { add, clear, download, viewLink, wrap, type Sel } from './dom.js';
import { computeLayout } from './layout.js';
import { renderLegend } from './legend.js';
import { renderPanel } from './panel.js';
import { renderReadiness, windowText } from './readiness-view.js';
import { MapView } from './render.js';
import { DEFAULT_STATE, graphQuery, parseState, toSearch, windowQuery, type ViewState } from './state.js';
import { renderToolbar } from './toolbar.js';

/** Beyond these the map draws the busiest part and says so (SVG stays responsive up to about here). */
const MAX_NODES = 2500;
const MAX_EDGES = 12000;

const app = wrap(document.getElementById('app')!);
let state: ViewState = parseState(location.search);
let summary: Summary | null = null;
let graph: Graph | null = null;
let graphKey = '';
/** The map's own notice (a graph too big to draw whole): shown on the map view only. */
let mapNotice = '';
let graphAbort: AbortController | null = null;
let panelAbort: AbortController | null = null;

const top = add(app, 'header', 'topbar');
add(top, 'h1', 'brand', 'trustmap');
const nav = add(top, 'nav', 'views');
const summaryLine = add(top, 'span', 'summary-line');
const dropsBanner = add(app, 'div', 'drops-banner').attr('role', 'alert').attr('hidden', '');
const toolbar = add(app, 'div', 'toolbar');
const notice = add(app, 'div', 'notice').attr('role', 'status').attr('hidden', '');
const main = add(app, 'main', 'content');
const mapArea = add(main, 'div', 'map-area');
const mapStatus = add(mapArea, 'div', 'map-status').attr('role', 'status');
// Folded away on a small screen, where it would cover much of the map (and the nodes under it).
const legend = add(mapArea, 'details', 'legend').property('open', !matchMedia('(max-width: 760px), (max-height: 600px)').matches);
const panel = add(main, 'aside', 'panel').attr('hidden', '').attr('aria-label', 'details');
const readinessArea = add(main, 'section', 'readiness-area').attr('hidden', '');
const map = new MapView(mapArea.node()!, {
  select: (id, byKeyboard) => {
    // From the keyboard, the focus follows into the panel (after the node, thousands of other
    // nodes come before it in tab order); Escape brings it back.
    void setState({ node: id }).then(() => { if (byKeyboard && state.node === id) panel.select<HTMLElement>('.panel-title').node()?.focus(); });
  },
  // The callee's panel, with the caller's rows of its inbound table marked and scrolled to.
  selectEdge: (source, target) => {
    void setState({ node: target }).then(() => {
      if (state.node !== target) return;
      const rows = panel.selectAll<HTMLTableRowElement, unknown>('table.inbound tbody tr')
        .classed('edge-call', function () { return this.querySelector('a.peer')?.textContent === source; })
        .filter('.edge-call');
      rows.node()?.scrollIntoView({ block: 'nearest' });
    });
  },
});

/** Escape closes the side panel and gives the focus back to its node (outside the toolbar, whose dropdowns and fields have their own). */
document.addEventListener('keydown', (ev) => {
  if (ev.key !== 'Escape' || state.view !== 'map' || state.node === null) return;
  if (ev.target instanceof Node && toolbar.node()!.contains(ev.target)) return;
  ev.preventDefault();
  closePanel();
});

/** Closes the side panel; the focus goes back to the node it was about, not to the page's top. */
function closePanel(): void {
  const id = state.node;
  void setState({ node: null }).then(() => { if (id !== null) map.focusNode(id); });
}

/** The URL of the current view changed by `patch`: what a link to that view holds. */
function viewHref(patch: Partial<ViewState>): string {
  return toSearch({ ...state, ...patch }) || location.pathname;
}

const viewLinks = ([['map', 'Map'], ['readiness', 'Readiness']] as const).map(([view, label]) =>
  [view, viewLink(nav, `view-link view-${view}`, label, '', () => { void setState({ view }); })] as const);

/** Applies a change to the view; resolves once the page shows it. */
function setState(patch: Partial<ViewState>, push = true): Promise<void> {
  state = { ...state, ...patch };
  const search = toSearch(state);
  if (search !== location.search) {
    if (push) history.pushState(null, '', search || location.pathname);
    else history.replaceState(null, '', search || location.pathname);
  }
  return render();
}

window.addEventListener('popstate', () => {
  state = parseState(location.search);
  void render();
});

function showStatus(host: Sel, title: string, lines: string[] = [], action?: { label: string; run: () => void }): void {
  clear(host).attr('hidden', null);
  add(host, 'p', 'status-title', title);
  for (const l of lines) add(host, 'p', 'status-line', l);
  if (action) add(host, 'button', 'status-action', action.label).attr('type', 'button').on('click', action.run);
}

/** To the sign-in form, which returns to this view (filters, selection) once signed in. */
function signIn(): void {
  location.assign(`/login?next=${encodeURIComponent(location.pathname + location.search)}`);
}

const clearFilters = { label: 'Clear the filters', run: () => { void setState({ ...DEFAULT_STATE, view: 'map' }); } };

function showError(err: unknown): void {
  if (err instanceof ApiError && err.kind === 'unauthorized') { signIn(); return; }
  const msg = err instanceof Error ? err.message : String(err);
  mapArea.classed('has-status', true);
  // Refused filters (a window whose start is after its end, typed or in a link): asking again
  // gets the same answer, clearing them does not.
  if (err instanceof ApiError && err.kind === 'bad-request') {
    showStatus(mapStatus, 'The map cannot be drawn for these filters', [msg], clearFilters);
    return;
  }
  const title = err instanceof ApiError && err.kind === 'unreachable' ? 'The trustmap server is not answering' : 'Something went wrong';
  showStatus(mapStatus, title, [msg], { label: 'Try again', run: () => { summary = null; graphKey = ''; void render(); } });
}

async function loadSummary(): Promise<Summary | null> {
  if (summary) return summary;
  showStatus(mapStatus, 'Loading…');
  try {
    summary = await api.summary();
  } catch (err) {
    showError(err);
    return null;
  }
  const s = summary;
  const c = s.counts;
  renderDrops(s);
  // The session cookie is HttpOnly: only the server can clear it. On a shared machine the next
  // person at this browser would otherwise stay signed in until it quits.
  if (s.features.sign_in && top.select('button.sign-out').empty()) {
    add(top, 'button', 'sign-out', 'Sign out').attr('type', 'button').on('click', () => {
      void fetch('/api/logout', { method: 'POST', credentials: 'same-origin' }).finally(() => location.assign('/login'));
    });
  }
  summaryLine.text(c.call_rows === 0 ? 'empty store'
    : `${num(c.calls)} calls · ${num(c.nodes)} nodes · ${num(c.edges)} edges · ${num(c.namespaces)} namespaces · ${num(c.captures)} ${c.captures === 1 ? 'input' : 'inputs'}`);
  return s;
}

/**
 * A live capture that dropped packets saw only part of the traffic, and a pushing collector whose
 * spool filled up dropped calls it had seen: what is missing is absent from the map, the
 * readiness verdicts and the policies, so this stays on every view. A collector that dropped
 * Hubble verdicts leaves calls without their DROPPED counts: the policies may allow what Cilium
 * refuses today, a wrong map rather than an incomplete one.
 */
function renderDrops(s: Summary): void {
  const dropped = s.counts.dropped ?? 0;
  const spooled = s.counts.spool_dropped_calls ?? 0;
  const verdicts = s.counts.spool_dropped_verdicts ?? 0;
  clear(dropsBanner).attr('hidden', dropped > 0 || spooled > 0 || verdicts > 0 ? null : '');
  const where = (c: CaptureSummary): string => `${c.name}${c.node ? ` on ${c.node}` : ''}`;
  /** "Dropped by: NAME on NODE: N calls; ...", from the captures `pick` counts above zero. */
  const droppedBy = (pick: (c: CaptureSummary) => number | null, one: string, many: string): string =>
    `Dropped by: ${s.captures.filter((c) => (pick(c) ?? 0) > 0).map((c) => `${where(c)}: ${num(pick(c) ?? 0)} ${pick(c) === 1 ? one : many}`).join('; ')}.`;
  if (dropped > 0) {
    const lossy = s.captures.filter((c) => (c.dropped ?? 0) > 0);
    add(dropsBanner, 'strong', undefined, `Live capture dropped ${num(dropped)} ${dropped === 1 ? 'packet' : 'packets'}: this map may be incomplete.`);
    add(dropsBanner, 'span', undefined, ' Calls in the dropped packets are missing from the map, the readiness verdicts and the proposed policies. ');
    add(dropsBanner, 'span', 'drops-where', `Dropped by: ${lossy.map((c) => `${where(c)}: ${num(c.dropped ?? 0)} dropped, ${num(c.packets)} captured`).join('; ')}.`);
  }
  if (spooled > 0) {
    add(dropsBanner, 'strong', undefined, `${dropped > 0 ? ' ' : ''}Collectors dropped ${num(spooled)} ${spooled === 1 ? 'call' : 'calls'} from a full push spool: this map may be incomplete.`);
    add(dropsBanner, 'span', undefined, ' The central server was unreachable for longer than their spool could hold; those calls are missing from the map, the readiness verdicts and the proposed policies. ');
    add(dropsBanner, 'span', 'spool-drops-where', droppedBy((c) => c.spool_dropped_calls, 'call', 'calls'));
  }
  if (verdicts > 0) {
    add(dropsBanner, 'strong', undefined, `${dropped > 0 || spooled > 0 ? ' ' : ''}Collectors dropped ${num(verdicts)} Hubble ${verdicts === 1 ? 'verdict' : 'verdicts'} from a full push spool: calls Cilium refuses may be proposed as allowed.`);
    add(dropsBanner, 'span', undefined, ' Calls whose DROPPED counts were lost look like allowed traffic to the proposed policies; check them against the cluster\'s Cilium policy before applying any. ');
    add(dropsBanner, 'span', 'spool-verdict-drops-where', droppedBy((c) => c.spool_dropped_verdicts, 'verdict', 'verdicts'));
  }
}

/** Counts as people read them: 26,038 rather than 26038. */
function num(x: number): string {
  return x.toLocaleString('en');
}

/** Keeps the busiest edges (and their nodes) when a graph is too big to draw whole. */
function trim(g: Graph): { graph: Graph; cut: boolean } {
  if (g.nodes.length <= MAX_NODES && g.edges.length <= MAX_EDGES) return { graph: g, cut: false };
  const edges = [...g.edges].sort((a, b) => b.count - a.count || a.source.localeCompare(b.source) || a.target.localeCompare(b.target));
  const keep = new Set<string>();
  const kept = [];
  for (const e of edges) {
    if (kept.length >= MAX_EDGES) break;
    const extra = (keep.has(e.source) ? 0 : 1) + (keep.has(e.target) ? 0 : 1);
    if (keep.size + extra > MAX_NODES) continue;
    keep.add(e.source); keep.add(e.target);
    kept.push(e);
  }
  return { graph: { ...g, nodes: g.nodes.filter((n) => keep.has(n.id)), edges: kept }, cut: true };
}

async function renderMap(s: Summary): Promise<void> {
  const key = graphQuery(state).toString();
  if (key !== graphKey || graph === null) {
    graphAbort?.abort();
    const ctl = (graphAbort = new AbortController());
    showStatus(mapStatus, 'Loading the map…');
    mapArea.classed('has-status', true);
    let g: Graph;
    try {
      g = await api.graph(graphQuery(state), ctl.signal);
    } catch (err) {
      if ((err as Error).name === 'AbortError') return;
      graph = null;
      showError(err);
      return;
    }
    graph = g;
    graphKey = key;
    const { graph: drawn, cut } = trim(g);
    mapNotice = cut
      ? `This graph has ${num(g.nodes.length)} nodes and ${num(g.edges.length)} edges; the map shows the busiest ${num(drawn.edges.length)} edges. Narrow it with the filters.`
      : '';
    map.draw(drawn, computeLayout(drawn));
    const kinds = NODE_KINDS.filter((k) => drawn.nodes.some((n) => n.kind === k)) as NodeKind[];
    renderLegend(legend, kinds.length ? kinds : ['workload']);
    renderToolbar(toolbar, state, s, g.nodes.map((n) => n.id), toolbarEvents);
  }
  const g = graph;
  notice.attr('hidden', mapNotice ? null : '').text(mapNotice);
  if (s.counts.call_rows === 0) {
    showStatus(mapStatus, 'No calls recorded yet', [
      'This store is empty. Record some traffic, then reload:',
      'tcpdump -i any -U -w - | trustmap collect pcap --db STORE -',
      'or try the demo: trustmap demo',
    ]);
    mapArea.classed('has-status', true);
  } else if (g.nodes.length === 0) {
    showStatus(mapStatus, 'Nothing matches these filters', ['No calls in this window with this namespace, protocol and security selection.'], clearFilters);
    mapArea.classed('has-status', true);
  } else {
    mapStatus.attr('hidden', '');
    mapArea.classed('has-status', false);
  }
  map.highlight(state.node);
}

async function renderSidePanel(s: Summary): Promise<void> {
  panelAbort?.abort();
  if (state.node === null || state.view !== 'map') {
    clear(panel).attr('hidden', '');
    main.classed('with-panel', false);
    return;
  }
  main.classed('with-panel', true);
  const ctl = (panelAbort = new AbortController());
  await renderPanel(panel, state.node, state.level, windowQuery(state), s, {
    close: closePanel,
    focus: (id) => { void focusOn(id); },
    href: (id) => viewHref({ node: id }),
  }, ctl.signal);
}

async function renderReadinessView(s: Summary): Promise<void> {
  clear(readinessArea);
  if (!s.features.readiness) {
    showStatus(readinessArea, 'The readiness check is not available in this build yet.');
    return;
  }
  showStatus(readinessArea, 'Checking readiness…');
  // The window comes from the map's toolbar, which this view does not show: say which it is, and
  // offer the whole recording wherever a narrowed one leaves nothing (or nothing valid) to judge.
  const { since, until } = state;
  const isNarrowed = since !== null || until !== null;
  const wholeRecording = { label: 'Judge the whole recording', run: () => { void setState({ since: null, until: null }); } };
  try {
    const report = await api.readiness(windowQuery(state));
    if (state.view !== 'readiness') return;
    if (report.namespaces.length === 0) {
      showStatus(readinessArea, 'No workloads to judge', ['Readiness needs calls between workloads; this store or window has none.',
        `Window: ${windowText(since, until)}`], isNarrowed ? wholeRecording : undefined);
      return;
    }
    renderReadiness(readinessArea, report, state.sort, { since, until }, {
      // A workload is a node of the workload-level map (at the service level the same id names its
      // Service, or nothing).
      openWorkload: (id) => { void focusOn(id, { level: 'workload' }); },
      openNamespace: (ns) => setState({ view: 'map', namespaces: [ns], node: null }),
      workloadHref: (id) => viewHref({ view: 'map', node: id, level: 'workload' }),
      namespaceHref: (ns) => viewHref({ view: 'map', namespaces: [ns], node: null }),
      sort: (sort) => setState({ sort }, false),
      wholeRecording: wholeRecording.run,
    });
  } catch (err) {
    if (err instanceof ApiError && err.kind === 'unauthorized') { signIn(); return; }
    showStatus(readinessArea, 'Could not check readiness', [err instanceof Error ? err.message : String(err), `Window: ${windowText(since, until)}`],
      isNarrowed ? wholeRecording : undefined);
  }
}

/** Selects a node and centres the map on it once the side panel has taken its place. */
async function focusOn(id: string, patch: Partial<ViewState> = {}): Promise<void> {
  await setState({ ...patch, view: 'map', node: id });
  if (map.focus(id) || graph === null) return;
  // Its panel is open but the map cannot show it; saying nothing looked like a search that failed.
  const node = graph.nodes.find((n) => n.id === id);
  if (node === undefined) {
    // A peer in the panel whose calls the filters leave out (a kubelet probe with infrastructure hidden).
    notice.attr('hidden', null).text(`${id} is not on the map with these filters.`);
    return;
  }
  // In the graph but left out of a map too big to draw whole.
  const ns = node.namespace;
  const msg = `${id} is not drawn: the map shows only the busiest part of this graph.`;
  const canNarrow = ns !== null && !(state.namespaces.length === 1 && state.namespaces[0] === ns);
  notice.attr('hidden', null).text(canNarrow ? `${msg} ` : `${msg} Narrow it with the filters to see it.`);
  if (canNarrow) {
    add(notice, 'button', 'link show-namespace', `Show its namespace, ${ns}`).attr('type', 'button')
      .on('click', () => { void setState({ namespaces: [ns] }).then(() => map.focus(id)); });
  }
}

const toolbarEvents = {
  change: (patch: Partial<ViewState>) => setState(patch),
  search: (text: string) => {
    const t = text.trim().toLowerCase();
    if (!t || !graph) return;
    const hit = graph.nodes.find((n) => n.id.toLowerCase() === t) ?? graph.nodes.find((n) => n.name.toLowerCase() === t)
      ?? graph.nodes.find((n) => n.id.toLowerCase().includes(t));
    if (!hit) { notice.attr('hidden', null).text(`No node matches "${text}" in this view.`); return; }
    void focusOn(hit.id);
  },
  fit: () => map.fit(),
  exportSvg: () => {
    const { text } = map.exportSvg();
    download('trustmap-map.svg', new Blob([text], { type: 'image/svg+xml' }));
  },
  exportPng: () => {
    // Seconds on a large map: say so, and say it when the browser cannot make the picture at all.
    const button = toolbar.select<HTMLButtonElement>('button[name="export-png"]');
    button.property('disabled', true).text('PNG…');
    exportPng()
      .catch(() => { notice.attr('hidden', null).text('The PNG could not be made: the map is too large for the browser to rasterise. SVG exports it whole.'); })
      .finally(() => { button.property('disabled', false).text('PNG'); });
  },
};

/**
 * The longest side of an exported PNG. At 16,000 px (the old limit, near Chromium's canvas limit)
 * the 2,500-node map of the 5,000-workload store took 12.8 s and wrote a 214 MB file; at 8,192 px
 * 5.4 s and 83 MB, labels still legible (7–8 px). Maps that big read better as SVG.
 */
const MAX_PNG_SIDE = 8192;

/** Rasterises the exported SVG (loaded as a data: image, which the CSP allows) onto a canvas. */
async function exportPng(): Promise<void> {
  const { text, width, height } = map.exportSvg();
  const img = new Image();
  img.src = `data:image/svg+xml;charset=utf-8,${encodeURIComponent(text)}`;
  await img.decode();
  const scale = Math.min(2, MAX_PNG_SIDE / Math.max(width, height));
  const canvas = document.createElement('canvas');
  canvas.width = Math.round(width * scale);
  canvas.height = Math.round(height * scale);
  const ctx = canvas.getContext('2d')!;
  ctx.scale(scale, scale);
  ctx.drawImage(img, 0, 0, width, height);
  const blob = await new Promise<Blob | null>((resolve) => canvas.toBlob(resolve, 'image/png'));
  if (blob === null) throw new Error('canvas.toBlob gave nothing');
  download('trustmap-map.png', blob);
}

async function render(): Promise<void> {
  for (const [view, link] of viewLinks) link.classed('current', view === state.view).attr('href', viewHref({ view }));
  const s = await loadSummary();
  if (!s) return;
  if (toolbar.selectAll('*').empty()) renderToolbar(toolbar, state, s, [], toolbarEvents);
  const isMap = state.view === 'map';
  mapArea.attr('hidden', isMap ? null : '');
  toolbar.attr('hidden', isMap ? null : '');
  readinessArea.attr('hidden', isMap ? '' : null);
  if (isMap) {
    // The panel's room is taken before the map is drawn, so the map fits what is left of the page.
    main.classed('with-panel', state.node !== null);
    await renderMap(s);
    await renderSidePanel(s);
  } else {
    clear(panel).attr('hidden', '');
    main.classed('with-panel', false);
    notice.attr('hidden', '');
    await renderReadinessView(s);
  }
  document.body.dataset.ready = 'true';
}

void render();
