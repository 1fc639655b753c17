// Request targets → stored path templates: the template rules (inspect/path-template.ts), then
// the per-edge cardinality cap. One templater per ingest; docs/path-templates.md has the rules.
import { PathFolder, templatePath } from './inspect/path-template.js';

export const DEFAULT_MAX_PATHS_PER_EDGE = 50;

export function pathTemplater(maxPerEdge = DEFAULT_MAX_PATHS_PER_EDGE): (edge: string, target: string) => string {
  const folder = new PathFolder(maxPerEdge);
  return (edge, target) => folder.fold(edge, templatePath(target));
}
