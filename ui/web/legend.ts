// The legend: edge colours by security, node shapes by kind, width meaning volume.
import { symbol } from 'd3';
import type { NodeKind } from '../../analyzer/model.js';
import { add, clear, type Sel } from './dom.js';
import { KIND_SHAPES, SECURITY_CLASSES, SECURITY_COLOURS, SECURITY_LABELS } from './render.js';

/** Fills `host`, a <details> the user can fold so the legend does not hide the nodes under it. */
export function renderLegend(host: Sel, kinds: NodeKind[]): void {
  clear(host);
  add(host, 'summary', 'legend-toggle', 'Legend');
  add(host, 'div', 'legend-title', 'Edges');
  for (const c of SECURITY_CLASSES) {
    const row = add(host, 'div', 'legend-row');
    const svg = row.append('svg').attr('width', 28).attr('height', 10).attr('aria-hidden', 'true');
    svg.append('line').attr('x1', 2).attr('x2', 26).attr('y1', 5).attr('y2', 5).attr('stroke', SECURITY_COLOURS[c]).attr('stroke-width', 3);
    add(row, 'span', undefined, SECURITY_LABELS[c]);
  }
  add(host, 'div', 'legend-note', 'width = calls, arrow = direction');
  add(host, 'div', 'legend-title', 'Nodes');
  for (const k of kinds) {
    const row = add(host, 'div', 'legend-row');
    const svg = row.append('svg').attr('width', 28).attr('height', 20).attr('aria-hidden', 'true');
    svg.append('path').attr('transform', 'translate(14,10) scale(0.6)').attr('d', symbol(KIND_SHAPES[k].type, KIND_SHAPES[k].size)())
      .attr('fill', KIND_SHAPES[k].fill).attr('stroke', '#3b4453');
    add(row, 'span', undefined, KIND_SHAPES[k].label);
  }
}
