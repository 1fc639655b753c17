// Proposed objects → YAML text through yaml-emit.ts (never ad-hoc string concatenation), so a
// traffic-derived string is quoted and escaped as YAML requires and a comment stays one line.
import type { ProposedObject } from './model.js';
import { safeComment } from './shared.js';
import { writeDocument, type YamlWriter } from './yaml-emit.js';

/** One object as a YAML document (without the `---` separator), its comments above it. */
export function renderObject(out: YamlWriter, o: ProposedObject): void {
  writeDocument(out, o.object, o.comments);
}

/** The comment lines above a multi-document stream. */
export function streamHeader(header: string[]): string {
  return header.map((h) => `# ${safeComment(h)}\n`).join('');
}
