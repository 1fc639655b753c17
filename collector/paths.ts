// Request targets → stored path templates. Interim rule until the template module lands: drop
// the query string and fragment.
export function templatePath(_edge: string, target: string): string {
  const q = target.search(/[?#]/);
  return q < 0 ? target : target.slice(0, q);
}
