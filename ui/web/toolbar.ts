// The filter bar: level, namespaces, protocols, security, time window, infrastructure traffic, a
// search box that focuses a node, and the export buttons. It reads and writes only ViewState.
import { select } from 'd3';
import { LEVELS } from '../../analyzer/model.js';
import { PROTOCOLS, SECURITIES } from '../../collector/model.js';
import type { Summary } from '../api/types.js';
import { add, clear, type Sel } from './dom.js';
import type { ViewState } from './state.js';

export interface ToolbarEvents {
  change(patch: Partial<ViewState>): void;
  search(text: string): void;
  fit(): void;
  exportSvg(): void;
  exportPng(): void;
}

const PRESETS: Array<[string, number | null]> = [
  ['whole recording', null], ['last 1 min', 6e4], ['last 5 min', 3e5], ['last 15 min', 9e5], ['last hour', 36e5],
  ['last 6 hours', 216e5], ['last day', 864e5], ['last week', 6048e5],
];

/** ISO → the value a datetime-local input shows (local time, seconds). */
function toLocalInput(iso: string | null): string {
  if (iso === null) return '';
  const d = new Date(iso);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** "UTC-05:00" for the browser's zone at `at`; null when that is UTC itself. */
function utcOffset(at: Date): string | null {
  const m = -at.getTimezoneOffset();
  if (m === 0) return null;
  const a = Math.abs(m);
  return `UTC${m < 0 ? '-' : '+'}${String(Math.floor(a / 60)).padStart(2, '0')}:${String(a % 60).padStart(2, '0')}`;
}

function fromLocalInput(v: string): string | null {
  if (v === '') return null;
  const t = new Date(v).getTime();
  return Number.isNaN(t) ? null : new Date(t).toISOString();
}

/** A dropdown of checkboxes; an empty selection means "all". */
function multi<T extends string>(bar: Sel, name: string, values: readonly T[], chosen: T[], onChange: (v: T[]) => void): void {
  const d = add(bar, 'details', `multi multi-${name}`);
  add(d, 'summary', undefined, `${name}: ${chosen.length === 0 ? 'all' : chosen.join(', ')}`);
  const box = add(d, 'div', 'multi-box');
  for (const v of values) {
    const label = add(box, 'label');
    label.append('input').attr('type', 'checkbox').attr('name', name).attr('value', v).property('checked', chosen.includes(v))
      .on('change', () => {
        const now = box.selectAll<HTMLInputElement, unknown>('input').nodes().filter((i) => i.checked).map((i) => i.value as T);
        onChange(now);
      });
    label.append('span').text(v);
  }
  if (chosen.length) add(box, 'button', 'link', 'show all').attr('type', 'button').on('click', () => onChange([]));
}

/**
 * The toolbar is drawn again whenever the map reloads, which is after every change made in it: an
 * open dropdown stays open (picking several namespaces out of 200 needs no reopening each time)
 * and the focused control keeps the focus (a keyboard user is not thrown back to the page's top).
 */
function keepingOpenAndFocus(bar: Sel, draw: () => void): void {
  const open = bar.selectAll<HTMLDetailsElement, unknown>('details[open]').nodes().map((d) => d.className);
  const active = document.activeElement;
  const focused = active instanceof HTMLElement && bar.node()!.contains(active) ? active : null;
  // A control by its name (and a checkbox by its value too), a dropdown's summary by its dropdown.
  const isSame = focused === null ? null : focused.localName === 'summary'
    ? (n: HTMLElement) => n.localName === 'summary' && n.parentElement!.className === focused.parentElement!.className
    : (n: HTMLElement) => n.getAttribute('name') === focused.getAttribute('name') && n.getAttribute('value') === focused.getAttribute('value');
  draw();
  bar.selectAll<HTMLDetailsElement, unknown>('details').each(function () { if (open.includes(this.className)) this.open = true; });
  if (isSame !== null && (focused!.localName === 'summary' || focused!.hasAttribute('name'))) {
    bar.selectAll<HTMLElement, unknown>('summary, input, select, button').nodes().find(isSame)?.focus();
  }
}

export function renderToolbar(bar: Sel, s: ViewState, summary: Summary, nodeIds: string[], events: ToolbarEvents): void {
  keepingOpenAndFocus(bar, () => drawToolbar(bar, s, summary, nodeIds, events));
}

function drawToolbar(bar: Sel, s: ViewState, summary: Summary, nodeIds: string[], events: ToolbarEvents): void {
  clear(bar);
  const lvl = add(bar, 'label', 'field');
  add(lvl, 'span', undefined, 'Level ');
  const sel = lvl.append('select').attr('name', 'level').on('change', function () {
    events.change({ level: (this as HTMLSelectElement).value as ViewState['level'], node: null });
  });
  for (const l of LEVELS) sel.append('option').attr('value', l).property('selected', l === s.level).text(l);

  const namespaces = [...new Set([...summary.namespaces, ...s.namespaces])].sort();
  multi(bar, 'namespaces', namespaces, s.namespaces, (v) => events.change({ namespaces: v }));
  multi(bar, 'protocols', PROTOCOLS, s.protocols, (v) => events.change({ protocols: v }));
  multi(bar, 'security', SECURITIES, s.securities, (v) => events.change({ securities: v }));

  const win = add(bar, 'span', 'field window');
  add(win, 'span', undefined, 'Window ');
  const preset = win.append('select').attr('name', 'window').attr('aria-label', 'time window');
  const last = summary.window.last_seen;
  for (const [label, ms] of PRESETS) {
    const since = ms === null || last === null ? null : new Date(Date.parse(last) - ms).toISOString();
    preset.append('option').attr('value', since ?? '').property('selected', s.until === null && s.since === since).text(label);
  }
  if (s.until !== null || (s.since !== null && !PRESETS.some(([, ms]) => ms !== null && last !== null && new Date(Date.parse(last) - ms).toISOString() === s.since))) {
    preset.append('option').attr('value', 'custom').property('selected', true).text('custom');
  }
  preset.on('change', function () {
    const v = (this as HTMLSelectElement).value;
    if (v !== 'custom') events.change({ since: v === '' ? null : v, until: null });
  });
  // The fields show the browser's local time; everything else on the page (panel, readiness,
  // tooltips) says UTC with a Z. Off UTC, say which clock the fields use.
  const zone = utcOffset(last === null ? new Date() : new Date(last));
  for (const [key, label] of [['since', 'from'], ['until', 'to']] as const) {
    win.append('input').attr('type', 'datetime-local').attr('step', 1).attr('name', key).attr('aria-label', zone === null ? label : `${label}, local time (${zone})`)
      .property('value', toLocalInput(s[key])).on('change', function () {
        events.change({ [key]: fromLocalInput((this as HTMLInputElement).value) });
      });
  }
  if (zone !== null) add(win, 'span', 'muted small tz', `local time (${zone})`);

  const infra = add(bar, 'label', 'field check');
  infra.append('input').attr('type', 'checkbox').attr('name', 'hide-infra').property('checked', s.hideInfra)
    .on('change', function () { events.change({ hideInfra: (this as HTMLInputElement).checked }); });
  add(infra, 'span', undefined, 'hide probes, metrics, DNS');

  const search = add(bar, 'form', 'search').attr('role', 'search');
  const input = search.append('input').attr('type', 'search').attr('name', 'q').attr('placeholder', 'find a workload…')
    .attr('list', 'node-ids').attr('aria-label', 'find a workload');
  const list = search.append('datalist').attr('id', 'node-ids');
  list.selectAll('option').data(nodeIds).join('option').attr('value', (d) => d);
  search.on('submit', (ev: SubmitEvent) => { ev.preventDefault(); events.search(String(input.property('value'))); });

  const tools = add(bar, 'span', 'tools');
  add(tools, 'button', undefined, 'Fit').attr('type', 'button').attr('name', 'fit').on('click', () => events.fit());
  add(tools, 'button', undefined, 'SVG').attr('type', 'button').attr('name', 'export-svg').attr('title', 'download the map as SVG').on('click', () => events.exportSvg());
  add(tools, 'button', undefined, 'PNG').attr('type', 'button').attr('name', 'export-png').attr('title', 'download the map as PNG').on('click', () => events.exportPng());

  // A click anywhere else closes open dropdowns.
  select(document).on('click.multi', (ev: MouseEvent) => {
    bar.selectAll<HTMLDetailsElement, unknown>('details[open]').each(function () {
      if (!this.contains(ev.target as Node)) this.open = false;
    });
  });
}
