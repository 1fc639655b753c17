// Small DOM helpers over d3 selections. Text always goes in through .text(): nothing the server
// sends is ever parsed as HTML.
import { select, type Selection } from 'd3';

export type Sel = Selection<HTMLElement, unknown, null, undefined>;

export function wrap(el: HTMLElement): Sel {
  return select(el);
}

/** Appends `tag` with a class and (optionally) text. */
export function add(parent: Sel, tag: string, cls?: string, text?: string): Sel {
  const s = parent.append<HTMLElement>(tag);
  if (cls) s.attr('class', cls);
  if (text !== undefined) s.text(text);
  return s;
}

export function clear(s: Sel): Sel {
  s.selectAll('*').remove();
  s.text('');
  return s;
}

/** A table from header labels and rows of cell texts (or cell-builder functions). */
export function table(parent: Sel, cls: string, head: string[], rows: Array<Array<string | ((td: Sel) => void)>>): Sel {
  const t = add(parent, 'table', cls);
  const tr = add(add(t, 'thead'), 'tr');
  for (const h of head) add(tr, 'th', undefined, h).attr('scope', 'col');
  const body = add(t, 'tbody');
  for (const r of rows) {
    const row = add(body, 'tr');
    for (const c of r) {
      const td = add(row, 'td');
      if (typeof c === 'string') td.text(c);
      else c(td);
    }
  }
  return t;
}

/** "2026-11-23T09:42:26.260Z" → "2026-11-23 09:42:26Z": readable, still unambiguous. */
export function shortTime(iso: string | null): string {
  if (iso === null) return '–';
  return iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

/**
 * A link to another view of this page: `href` is that view's URL (so it can be copied, opened in a
 * new tab or shared), and a plain click changes the view in place with `go` instead of reloading.
 * Clicks with a modifier (Ctrl, Cmd, Shift: new tab or window) are left to the browser.
 */
export function viewLink(parent: Sel, cls: string, text: string, href: string, go: () => void): Sel {
  return add(parent, 'a', cls, text).attr('href', href).on('click', (ev: MouseEvent) => {
    if (ev.button !== 0 || ev.ctrlKey || ev.metaKey || ev.shiftKey || ev.altKey) return;
    ev.preventDefault();
    go();
  });
}

/** Saves text or a blob as a file through a temporary link. */
export function download(name: string, data: Blob): void {
  const url = URL.createObjectURL(data);
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
