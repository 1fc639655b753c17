// The view as URL query parameters: what is shown (map or readiness), the filters, the selected
// node. Reading is lenient (a hand-edited or stale URL drops what it cannot use rather than
// failing); writing always produces the same string for the same state, so views can be shared.
import { z } from 'zod';
import { LEVELS, type Level } from '../../analyzer/model.js';
import { PROTOCOLS, SECURITIES, type Protocol, type Security } from '../../collector/model.js';

export const VIEWS = ['map', 'readiness'] as const;
export type View = (typeof VIEWS)[number];

export interface ViewState {
  view: View;
  level: Level;
  namespaces: string[];
  protocols: Protocol[];
  securities: Security[];
  /** ISO times, or null for the whole recording. */
  since: string | null;
  until: string | null;
  hideInfra: boolean;
  /** The node whose side panel is open. */
  node: string | null;
  /** Readiness table sort: column and direction, e.g. "blockers-desc". */
  sort: string | null;
}

export const DEFAULT_STATE: ViewState = {
  view: 'map', level: 'workload', namespaces: [], protocols: [], securities: [], since: null, until: null,
  hideInfra: false, node: null, sort: null,
};

const listOf = <T extends string>(values: readonly T[], raw: string | null): T[] =>
  [...new Set((raw ?? '').split(',').filter((v): v is T => (values as readonly string[]).includes(v)))].sort();

const isoTime = z.iso.datetime({ offset: true });
const nsName = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

export function parseState(search: string): ViewState {
  const p = new URLSearchParams(search);
  const pick = <T extends string>(values: readonly T[], key: string, fallback: T): T =>
    ((values as readonly string[]).includes(p.get(key) ?? '') ? p.get(key) : fallback) as T;
  const time = (key: string) => (isoTime.safeParse(p.get(key)).success ? p.get(key) : null);
  const node = p.get('node');
  return {
    view: pick(VIEWS, 'view', 'map'),
    level: pick(LEVELS, 'level', 'workload'),
    namespaces: [...new Set((p.get('ns') ?? '').split(',').filter((s) => nsName.test(s)))].sort(),
    protocols: listOf(PROTOCOLS, p.get('proto')),
    securities: listOf(SECURITIES, p.get('sec')),
    since: time('since'),
    until: time('until'),
    hideInfra: p.get('infra') === 'hide',
    node: node !== null && node.length > 0 && node.length <= 320 ? node : null,
    sort: /^[a-z_]+-(asc|desc)$/.test(p.get('sort') ?? '') ? p.get('sort') : null,
  };
}

/** The query string for a state: defaults left out, fixed parameter order. */
export function toSearch(s: ViewState): string {
  const p = new URLSearchParams();
  if (s.view !== 'map') p.set('view', s.view);
  if (s.level !== 'workload') p.set('level', s.level);
  if (s.namespaces.length) p.set('ns', s.namespaces.join(','));
  if (s.protocols.length) p.set('proto', s.protocols.join(','));
  if (s.securities.length) p.set('sec', s.securities.join(','));
  if (s.since) p.set('since', s.since);
  if (s.until) p.set('until', s.until);
  if (s.hideInfra) p.set('infra', 'hide');
  if (s.node) p.set('node', s.node);
  if (s.sort) p.set('sort', s.sort);
  const q = p.toString();
  return q ? `?${q}` : '';
}

/** The /api/graph parameters of a state. */
export function graphQuery(s: ViewState): URLSearchParams {
  const p = windowQuery(s);
  p.set('level', s.level);
  for (const [key, list] of [['namespace', s.namespaces], ['protocol', s.protocols], ['security', s.securities]] as const) {
    if (list.length) p.set(key, list.join(','));
  }
  if (s.hideInfra) p.set('hide_infra', 'true');
  return p;
}

/** The since/until parameters alone, for the side panel and readiness. */
export function windowQuery(s: ViewState): URLSearchParams {
  const p = new URLSearchParams();
  if (s.since) p.set('since', s.since);
  if (s.until) p.set('until', s.until);
  return p;
}
