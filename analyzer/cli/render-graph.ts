// The graph for people (table), for Graphviz (dot) and for Markdown renderers (mermaid). Every
// traffic-derived string (names come from DNS answers and inventories, paths from requests) is
// escaped for the target syntax; edges are coloured by security.
import { printable, table } from '../../collector/cli/support.js';
import type { Graph, GraphEdge, GraphNode, NodeKind, SecurityMix } from '../model.js';
import { dominantSecurity } from '../passes/security.js';

/** Edge colours: green all mTLS, blue TLS, red plaintext, grey unknown, orange a mix. */
export const SECURITY_COLOURS = {
  mtls: '#2e7d32', tls: '#1565c0', plaintext: '#c62828', unknown: '#757575', mixed: '#ef6c00', none: '#757575',
} as const;

const edgeColour = (e: GraphEdge): string => SECURITY_COLOURS[dominantSecurity(e.security_counts)];

/** "mtls", or "plaintext 60% mtls 40%" for a mix, largest share first. */
export function securityText(mix: SecurityMix): string {
  const parts = (['mtls', 'tls', 'plaintext', 'unknown'] as const).filter((s) => mix[s] > 0).sort((a, b) => mix[b] - mix[a]);
  if (parts.length === 0) return '-';
  if (parts.length === 1) return parts[0];
  return parts.map((s) => `${s} ${Math.round(mix[s] * 100)}%`).join(' ');
}

/** `namespaces`: the --namespace filter, named when nothing is left (a typo reads differently from a quiet window). */
export function graphTable(g: Graph, namespaces?: readonly string[]): string {
  if (g.edges.length === 0) return `No calls${namespaces !== undefined && namespaces.length > 0 ? ` with an end in ${namespaces.join(', ')}` : ''} in the window.\n`;
  return table(
    ['SOURCE', 'TARGET', 'PORTS', 'PROTOCOLS', 'SECURITY', 'CALLS', 'LAST SEEN'],
    g.edges.map((e) => [
      printable(e.source), printable(e.target), e.ports.join(','), e.protocols.join(','),
      securityText(e.security) + (e.credentials_in_plaintext ? ' (credentials!)' : ''), String(e.count), e.last_seen,
    ]),
  ) + `\n${g.nodes.length} nodes, ${g.edges.length} edges (${g.level} level)\n`;
}

const edgeLabel = (e: GraphEdge): string => `${e.ports.join(',')} ${e.protocols.join(',')}`;

// ---- Graphviz ---------------------------------------------------------------------------------

/** A DOT double-quoted string: backslash and quote escaped, control characters replaced. */
export const dotString = (s: string): string => `"${printable(s).replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;

const DOT_SHAPES: Record<NodeKind, string> = {
  workload: 'box', service: 'ellipse', namespace: 'folder', node: 'hexagon', external: 'diamond', unattributed: 'octagon',
};

export function graphDot(g: Graph): string {
  const lines = [
    'digraph trustmap {',
    '  rankdir=LR;',
    '  node [fontname="Helvetica", fontsize=10, style=rounded];',
    '  edge [fontname="Helvetica", fontsize=9];',
  ];
  for (const n of g.nodes) lines.push(`  ${dotString(n.id)} [label=${dotString(n.id)}, shape=${DOT_SHAPES[n.kind]}];`);
  for (const e of g.edges) {
    lines.push(`  ${dotString(e.source)} -> ${dotString(e.target)} [label=${dotString(edgeLabel(e))}, color="${edgeColour(e)}", fontcolor="${edgeColour(e)}", tooltip=${dotString(securityText(e.security))}];`);
  }
  lines.push('}');
  return lines.join('\n') + '\n';
}

// ---- Mermaid ----------------------------------------------------------------------------------

/**
 * Text inside a Mermaid quoted label: Mermaid reads `#name;` entity codes, and labels may be
 * rendered as HTML, so quotes, angle brackets, ampersands and `#` itself become codes.
 */
export const mermaidText = (s: string): string => printable(s).replace(/[#"<>&|`]/g, (c) => `#${c.charCodeAt(0)};`);

const MERMAID_SHAPES: Record<NodeKind, [string, string]> = {
  workload: ['[', ']'], service: ['([', '])'], namespace: ['[[', ']]'], node: ['{{', '}}'], external: ['>', ']'], unattributed: ['((', '))'],
};

export function graphMermaid(g: Graph): string {
  // Mermaid ids must be plain words: number the nodes and keep the real id in the label.
  const ids = new Map<string, string>(g.nodes.map((n: GraphNode, i) => [n.id, `n${i}`]));
  const lines = ['flowchart LR'];
  for (const n of g.nodes) {
    const [open, close] = MERMAID_SHAPES[n.kind];
    lines.push(`  ${ids.get(n.id)}${open}"${mermaidText(n.id)}"${close}`);
  }
  g.edges.forEach((e) => lines.push(`  ${ids.get(e.source)} -->|"${mermaidText(edgeLabel(e))}"| ${ids.get(e.target)}`));
  g.edges.forEach((e, i) => lines.push(`  linkStyle ${i} stroke:${edgeColour(e)},color:${edgeColour(e)}`));
  return lines.join('\n') + '\n';
}
