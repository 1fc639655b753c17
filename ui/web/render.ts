// Draws a laid-out graph with d3 into one SVG: namespace boxes, edges (colour = security, width =
// volume, arrow = direction), nodes (shape = kind), labels; zoom, pan, drag and hover tooltips.
// Every traffic-derived string goes in with .text(). Colours are SVG attributes rather than CSS
// classes, so an exported SVG looks the same outside the page.
import { drag, scaleLog, select, symbol, symbolCircle, symbolDiamond, symbolSquare, symbolTriangle, symbolWye, zoom, zoomIdentity, zoomTransform,
  type Selection, type SymbolType, type ZoomBehavior } from 'd3';
import type { Graph, GraphEdge, GraphNode, NodeKind } from '../../analyzer/model.js';
import type { Layout } from './layout.js';

export const SECURITY_CLASSES = ['mtls', 'tls', 'plaintext', 'mixed', 'unknown'] as const;
export type SecurityClass = (typeof SECURITY_CLASSES)[number];

export const SECURITY_COLOURS: Record<SecurityClass, string> = {
  mtls: '#1a9850', tls: '#4575b4', plaintext: '#d73027', mixed: '#e08214', unknown: '#8c8c8c',
};
export const SECURITY_LABELS: Record<SecurityClass, string> = {
  mtls: 'mutual TLS', tls: 'TLS (one-way)', plaintext: 'plaintext', mixed: 'mixed', unknown: 'unknown',
};

/** An edge's class: the one security all its calls share, else mixed. */
export function securityClass(e: GraphEdge): SecurityClass {
  const present = (['mtls', 'tls', 'plaintext', 'unknown'] as const).filter((k) => e.security_counts[k] > 0);
  return present.length === 1 ? present[0] : present.length === 0 ? 'unknown' : 'mixed';
}

export const KIND_SHAPES: Record<NodeKind, { type: SymbolType; size: number; fill: string; label: string }> = {
  workload: { type: symbolCircle, size: 380, fill: '#d6e6f5', label: 'workload' },
  service: { type: symbolWye, size: 360, fill: '#e3d9f2', label: 'service' },
  namespace: { type: symbolSquare, size: 520, fill: '#e6e6e6', label: 'namespace' },
  node: { type: symbolSquare, size: 340, fill: '#f5e9c8', label: 'cluster node' },
  external: { type: symbolDiamond, size: 380, fill: '#f5d5dc', label: 'external' },
  unattributed: { type: symbolTriangle, size: 320, fill: '#ececec', label: 'unattributed' },
};

const NODE_RADIUS = 13;
const ARROW = 7;

interface NodeDatum { node: GraphNode; x: number; y: number }
interface EdgeDatum { edge: GraphEdge; cls: SecurityClass; width: number; source: NodeDatum; target: NodeDatum }

export interface MapEvents {
  /** `byKeyboard`: chosen with Enter or Space on the focused node, not clicked. */
  select(id: string, byKeyboard: boolean): void;
  /** An edge was clicked: its calls are in its callee's panel, among the callee's callers. */
  selectEdge(source: string, target: string): void;
}

/** A quadratic curve from a to b bending to the left of the direction of travel (so a→b and b→a do not overlap), trimmed at both nodes. */
function edgePath(a: NodeDatum, b: NodeDatum): string {
  if (a === b) {
    return `M${a.x - 6},${a.y - NODE_RADIUS} C${a.x - 30},${a.y - 50} ${a.x + 30},${a.y - 50} ${a.x + 6},${a.y - NODE_RADIUS}`;
  }
  const dx = b.x - a.x, dy = b.y - a.y;
  const len = Math.hypot(dx, dy) || 1;
  const bend = Math.min(40, len * 0.12);
  const cx = (a.x + b.x) / 2 + (dy / len) * bend, cy = (a.y + b.y) / 2 - (dx / len) * bend;
  const trim = (px: number, py: number, r: number) => {
    const tx = cx - px, ty = cy - py, tl = Math.hypot(tx, ty) || 1;
    return [px + (tx / tl) * r, py + (ty / tl) * r];
  };
  const [sx, sy] = trim(a.x, a.y, NODE_RADIUS);
  const [ex, ey] = trim(b.x, b.y, NODE_RADIUS + ARROW * 0.6);
  return `M${sx.toFixed(1)},${sy.toFixed(1)}Q${cx.toFixed(1)},${cy.toFixed(1)} ${ex.toFixed(1)},${ey.toFixed(1)}`;
}

/** The name alone (the box says the namespace), cut to fit a cell; the tooltip has it whole. */
function shortLabel(n: GraphNode): string {
  return n.name.length > 24 ? `${n.name.slice(0, 23)}…` : n.name;
}

export class MapView {
  readonly svg: Selection<SVGSVGElement, unknown, null, undefined>;
  private readonly root: Selection<SVGGElement, unknown, null, undefined>;
  private readonly tooltip: Selection<HTMLDivElement, unknown, null, undefined>;
  private readonly zoomer: ZoomBehavior<SVGSVGElement, unknown>;
  private nodes = new Map<string, NodeDatum>();
  private edgesByNode = new Map<string, EdgeDatum[]>();
  private edgeSel: Selection<SVGPathElement, EdgeDatum, SVGGElement, unknown> | null = null;
  private nodeSel: Selection<SVGGElement, NodeDatum, SVGGElement, unknown> | null = null;
  private bounds = { width: 1, height: 1 };
  private selected: string | null = null;
  /** Whether any element carries a highlight class: clearing nothing is skipped (6,000 elements at 5,000 edges). */
  private isMarked = false;
  private size = { width: 800, height: 600 };
  /** Whether the view is still the whole map as framed by fit(): no zoom, pan or focus since. */
  private isFitted = true;

  constructor(private readonly container: HTMLElement, private readonly events: MapEvents) {
    this.svg = select(container).append('svg').attr('class', 'map').attr('role', 'img').attr('aria-label', 'service map')
      .attr('xmlns', 'http://www.w3.org/2000/svg');
    const defs = this.svg.append('defs');
    for (const cls of SECURITY_CLASSES) {
      defs.append('marker').attr('id', `arrow-${cls}`).attr('viewBox', `0 -${ARROW / 2} ${ARROW} ${ARROW}`)
        .attr('refX', ARROW * 0.4).attr('refY', 0).attr('markerUnits', 'userSpaceOnUse')
        .attr('markerWidth', ARROW).attr('markerHeight', ARROW).attr('orient', 'auto')
        .append('path').attr('d', `M0,-${ARROW / 2}L${ARROW},0L0,${ARROW / 2}Z`).attr('fill', SECURITY_COLOURS[cls]);
    }
    this.root = this.svg.append('g').attr('class', 'viewport').attr('font-family', 'system-ui, sans-serif');
    this.tooltip = select(container).append('div').attr('class', 'tooltip').attr('role', 'tooltip').attr('hidden', '');
    // The viewport's size as last measured: d3's default extent reads the SVG's size, which forces a
    // layout of every element at each programmatic zoom (90 ms at 5,000 edges).
    this.zoomer = zoom<SVGSVGElement, unknown>().scaleExtent([0.02, 8]).extent(() => [[0, 0], [this.size.width, this.size.height]]).on('zoom', (ev: { transform: { k: number; toString(): string }; sourceEvent: unknown }) => {
      this.root.attr('transform', ev.transform.toString());
      // A wheel, drag or pinch (programmatic transforms have no source event).
      if (ev.sourceEvent) this.isFitted = false;
      // Thousands of labels at a scale where nobody can read them only cost frames.
      this.root.classed('far', ev.transform.k < 0.45);
    });
    this.svg.call(this.zoomer).on('dblclick.zoom', null);
    this.svg.on('click', (ev: MouseEvent) => { if (ev.target === this.svg.node()) this.hideTooltip(); });
    // The map's area changes when the side panel opens or closes and when the window is resized;
    // the view was framed for the old size. Observed rather than measured after each change, so
    // no layout of thousands of elements is forced.
    new ResizeObserver((entries) => this.resized(entries[entries.length - 1].contentRect)).observe(container);
  }

  /**
   * A map still framed whole is framed again for its new size; one the user zoomed or moved keeps
   * its view, but a selected node the new size hides (under an opening panel) is brought back.
   */
  private resized(box: { width: number; height: number }): void {
    if (box.width === 0 || box.height === 0) return;
    if (box.width === this.size.width && box.height === this.size.height) return;
    if (this.isFitted) { this.fit(box); return; }
    this.size = { width: box.width, height: box.height };
    const d = this.selected === null ? undefined : this.nodes.get(this.selected);
    if (!d) return;
    const t = zoomTransform(this.svg.node()!);
    const [x, y] = t.apply([d.x, d.y]);
    const margin = NODE_RADIUS * t.k + 8;
    if (x < margin || y < margin || x > box.width - margin || y > box.height - margin) this.centreOn(d, t.k);
  }

  get drawnNodeCount(): number {
    return this.nodes.size;
  }

  draw(g: Graph, layout: Layout): void {
    // Measured before the new elements go in, so framing them does not force a layout of all of
    // them (that forced layout was 140 ms of a 1,000-node page load).
    const box = this.container.getBoundingClientRect();
    this.root.selectAll('*').remove();
    this.root.classed('has-selection', false);
    this.isMarked = false;
    this.nodes = new Map();
    this.edgesByNode = new Map();
    for (const n of g.nodes) {
      const p = layout.nodes.get(n.id);
      if (p) this.nodes.set(n.id, { node: n, x: p.x, y: p.y });
    }
    const maxCount = Math.max(1, ...g.edges.map((e) => e.count));
    const width = scaleLog().domain([1, maxCount + 1]).range([1.2, 7]).clamp(true);
    const edges: EdgeDatum[] = [];
    for (const e of g.edges) {
      const source = this.nodes.get(e.source), target = this.nodes.get(e.target);
      if (!source || !target) continue;
      const d: EdgeDatum = { edge: e, cls: securityClass(e), width: width(e.count + 1), source, target };
      edges.push(d);
      for (const id of new Set([e.source, e.target])) {
        let l = this.edgesByNode.get(id);
        if (!l) this.edgesByNode.set(id, (l = []));
        l.push(d);
      }
    }
    // Thin edges first, so busy ones stay visible on top.
    edges.sort((a, b) => a.width - b.width);

    const boxes = this.root.append('g').attr('class', 'clusters').selectAll('g').data(layout.clusters).join('g').attr('class', 'cluster');
    boxes.append('rect').attr('x', (c) => c.x).attr('y', (c) => c.y).attr('width', (c) => c.width).attr('height', (c) => c.height)
      .attr('rx', 10).attr('fill', '#f7f8fa').attr('stroke', '#c9ced6').attr('stroke-width', 1);
    boxes.append('text').attr('class', 'cluster-label').attr('x', (c) => c.x + 12).attr('y', (c) => c.y + 20)
      .attr('font-size', 13).attr('font-weight', 600).attr('fill', '#4a5361')
      .attr('stroke', '#f7f8fa').attr('stroke-width', 3).attr('paint-order', 'stroke').text((c) => c.label);

    this.edgeSel = this.root.append('g').attr('class', 'edges').attr('fill', 'none').selectAll<SVGPathElement, EdgeDatum>('path')
      .data(edges).join('path').attr('class', 'edge')
      .attr('d', (d) => edgePath(d.source, d.target))
      .attr('stroke', (d) => SECURITY_COLOURS[d.cls]).attr('stroke-width', (d) => d.width.toFixed(2))
      .attr('stroke-opacity', 0.8).attr('marker-end', (d) => `url(#arrow-${d.cls})`)
      .attr('data-source', (d) => d.edge.source).attr('data-target', (d) => d.edge.target)
      .on('click', (ev: MouseEvent, d) => { ev.stopPropagation(); this.hideTooltip(); this.events.selectEdge(d.edge.source, d.edge.target); })
      .on('mouseenter', (ev: MouseEvent, d) => this.showTooltip(ev, edgeTooltip(d)))
      .on('mousemove', (ev: MouseEvent) => this.moveTooltip(ev))
      .on('mouseleave', () => this.hideTooltip());

    const nodeData = [...this.nodes.values()];
    this.nodeSel = this.root.append('g').attr('class', 'nodes').selectAll<SVGGElement, NodeDatum>('g').data(nodeData).join('g')
      .attr('class', (d) => `node kind-${d.node.kind}`)
      .attr('data-id', (d) => d.node.id)
      .attr('tabindex', 0).attr('role', 'button').attr('aria-label', (d) => `${d.node.kind} ${d.node.id}`)
      .attr('transform', (d) => `translate(${d.x},${d.y})`);
    this.nodeSel.append('path').attr('class', 'shape').attr('d', (d) => symbol(KIND_SHAPES[d.node.kind].type, KIND_SHAPES[d.node.kind].size)())
      .attr('fill', (d) => KIND_SHAPES[d.node.kind].fill).attr('stroke', '#3b4453').attr('stroke-width', 1.4);
    // A white halo under each label keeps it readable where edges cross it.
    this.nodeSel.append('text').attr('class', 'label').attr('y', 27).attr('text-anchor', 'middle').attr('font-size', 11)
      .attr('fill', '#1f2630').attr('stroke', '#ffffff').attr('stroke-width', 3).attr('stroke-linejoin', 'round')
      .attr('paint-order', 'stroke').text((d) => shortLabel(d.node));
    this.nodeSel
      .on('click', (ev: MouseEvent, d) => { ev.stopPropagation(); this.events.select(d.node.id, false); })
      .on('keydown', (ev: KeyboardEvent, d) => { if (ev.key === 'Enter' || ev.key === ' ') { ev.preventDefault(); this.events.select(d.node.id, true); } })
      .on('mouseenter', (ev: MouseEvent, d) => this.showTooltip(ev, nodeTooltip(d.node, this.edgesByNode.get(d.node.id) ?? [])))
      .on('mousemove', (ev: MouseEvent) => this.moveTooltip(ev))
      .on('mouseleave', () => this.hideTooltip());
    this.nodeSel.call(drag<SVGGElement, NodeDatum>()
      .on('start', () => this.hideTooltip())
      .on('drag', (ev: { x: number; y: number }, d) => this.moveNode(d, ev.x, ev.y)));

    this.bounds = { width: Math.max(1, layout.width), height: Math.max(1, layout.height) };
    this.container.dataset.nodes = String(this.nodes.size);
    this.container.dataset.edges = String(edges.length);
    this.fit(box);
    if (this.selected) this.highlight(this.selected);
  }

  private moveNode(d: NodeDatum, x: number, y: number): void {
    d.x = x;
    d.y = y;
    this.nodeSel?.filter((n) => n === d).attr('transform', `translate(${x},${y})`);
    const mine = new Set(this.edgesByNode.get(d.node.id) ?? []);
    this.edgeSel?.filter((e) => mine.has(e)).attr('d', (e) => edgePath(e.source, e.target));
  }

  /** Zooms so the whole map fits the container. */
  fit(box: { width: number; height: number } = this.container.getBoundingClientRect()): void {
    this.size = { width: box.width || 800, height: box.height || 600 };
    this.isFitted = true;
    const w = box.width || 800, h = box.height || 600;
    const k = Math.min(2, 0.95 * Math.min(w / (this.bounds.width + 40), h / (this.bounds.height + 40)));
    const t = zoomIdentity.translate((w - this.bounds.width * k) / 2, (h - this.bounds.height * k) / 2).scale(k);
    this.svg.call(this.zoomer.transform, t);
  }

  /** Marks a node and its neighbours (others fade); null clears. */
  highlight(id: string | null): void {
    this.selected = id;
    const on = id !== null && this.nodes.has(id);
    if (!on && !this.isMarked) return;
    this.isMarked = on;
    this.root.classed('has-selection', on);
    const near = new Set<string>(id ? [id] : []);
    for (const e of (id && this.edgesByNode.get(id)) || []) { near.add(e.edge.source); near.add(e.edge.target); }
    this.nodeSel?.classed('hl', (d) => near.has(d.node.id)).classed('selected', (d) => d.node.id === id);
    this.edgeSel?.classed('hl', (d) => d.edge.source === id || d.edge.target === id);
  }

  /** Gives a drawn node the keyboard focus (without scrolling the map's area); false when it is not drawn. */
  focusNode(id: string): boolean {
    const el = this.nodeSel?.filter((d) => d.node.id === id).node();
    el?.focus({ preventScroll: true });
    return el != null;
  }

  /** Centres the view on a node, zoomed in enough to read it. */
  focus(id: string): boolean {
    const d = this.nodes.get(id);
    if (!d) return false;
    const box = this.container.getBoundingClientRect();
    this.size = { width: box.width || 800, height: box.height || 600 };
    this.centreOn(d, 1.3);
    return true;
  }

  private centreOn(d: NodeDatum, k: number): void {
    this.isFitted = false;
    this.svg.call(this.zoomer.transform, zoomIdentity.translate(this.size.width / 2 - d.x * k, this.size.height / 2 - d.y * k).scale(k));
  }

  /** The map as a standalone SVG document, framed to the whole graph. */
  exportSvg(): { text: string; width: number; height: number } {
    const clone = this.svg.node()!.cloneNode(true) as SVGSVGElement;
    const m = 20;
    const w = Math.ceil(this.bounds.width + 2 * m), h = Math.ceil(this.bounds.height + 2 * m);
    clone.setAttribute('viewBox', `${-m} ${-m} ${w} ${h}`);
    clone.setAttribute('width', String(w));
    clone.setAttribute('height', String(h));
    clone.removeAttribute('class');
    const vp = clone.querySelector('.viewport');
    vp?.removeAttribute('transform');
    vp?.classList.remove('far', 'has-selection');
    const bg = clone.ownerDocument.createElementNS('http://www.w3.org/2000/svg', 'rect');
    for (const [k, v] of [['x', -m], ['y', -m], ['width', w], ['height', h], ['fill', '#ffffff']] as const) bg.setAttribute(k, String(v));
    clone.insertBefore(bg, clone.firstChild);
    return { text: new XMLSerializer().serializeToString(clone), width: w, height: h };
  }

  private showTooltip(ev: MouseEvent, lines: string[]): void {
    this.tooltip.selectAll('div').data(lines).join('div').text((l) => l);
    this.tooltip.attr('hidden', null);
    this.moveTooltip(ev);
  }

  private moveTooltip(ev: MouseEvent): void {
    const box = this.container.getBoundingClientRect();
    const tip = this.tooltip.node()!;
    const x = Math.min(ev.clientX - box.left + 14, box.width - tip.offsetWidth - 4);
    const y = Math.min(ev.clientY - box.top + 14, box.height - tip.offsetHeight - 4);
    this.tooltip.style('left', `${Math.max(0, x)}px`).style('top', `${Math.max(0, y)}px`);
  }

  private hideTooltip(): void {
    this.tooltip.attr('hidden', '');
  }
}

const pct = (x: number) => `${Math.round(x * 100)}%`;

function edgeTooltip(d: EdgeDatum): string[] {
  const e = d.edge;
  const mix = (['mtls', 'tls', 'plaintext', 'unknown'] as const).filter((k) => e.security[k] > 0).map((k) => `${k} ${pct(e.security[k])}`).join(', ');
  return [
    `${e.source} → ${e.target}`,
    `${e.count} calls · ${e.protocols.join(', ')} · port ${e.ports.join(', ')}`,
    `security: ${mix || 'none recorded'}`,
    ...(e.credentials_in_plaintext ? ['credentials seen in plaintext'] : []),
    `last seen ${e.last_seen}`,
  ];
}

function nodeTooltip(n: GraphNode, edges: EdgeDatum[]): string[] {
  const inbound = edges.filter((e) => e.edge.target === n.id).reduce((s, e) => s + e.edge.count, 0);
  const outbound = edges.filter((e) => e.edge.source === n.id).reduce((s, e) => s + e.edge.count, 0);
  return [
    n.id,
    `${KIND_SHAPES[n.kind].label}${n.workload_kind ? ` (${n.workload_kind})` : ''}`,
    ...(n.service_account ? [`service account ${n.service_account}`] : []),
    ...(n.reason ? [`not attributed: ${n.reason}`] : []),
    `${inbound} calls in · ${outbound} calls out`,
  ];
}
