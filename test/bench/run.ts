// `npm run bench [-- --only NAME] [--strict] [suite flags]`: runs every benchmark suite in turn
// (one at a time: they share the machine's cores). Exit 0 unless a suite's counts disagree with
// its ground truth (1), a target is missed under --strict (1), or the flags are wrong (2).
import { analyzerSuite } from './analyzer.js';
import { collectorSuite } from './collector.js';
import { ingestSuite } from './ingest-load.js';
import type { BenchSuite } from './measure.js';
import { soakSuite } from './soak.js';
import { uiSuite } from './ui.js';

const SUITES: BenchSuite[] = [collectorSuite, analyzerSuite, uiSuite, soakSuite, ingestSuite];

function usage(): string {
  return `Usage: npm run bench -- [--only NAME] [--strict] [suite flags]

Suites:
${SUITES.map((s) => `  ${s.name.padEnd(12)} ${s.summary}`).join('\n')}

Collector flags: --size 1G  --runs 3  --format pcap|pcapng  --link ether|sll2  --seed 1
                 --tshark-runs 1  --tshark-timeout 1800  --no-build
Soak flags:      --soak-seconds 120  --sample-every 5  --no-build
Analyzer flags:  --workloads 5000  --namespaces 200  --rows 100000  --days 7  --seed 1  --runs 3
                 --max-old-space MiB (the child's V8 heap limit; unset: V8's default)
`;
}

async function main(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(usage());
    return 0;
  }
  const rest: string[] = [];
  let only: string | null = null;
  let isStrict = false;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--only') only = argv[++i] ?? '';
    else if (argv[i].startsWith('--only=')) only = argv[i].slice('--only='.length);
    else if (argv[i] === '--strict') isStrict = true;
    else rest.push(argv[i]);
  }
  const chosen = only === null ? SUITES : SUITES.filter((s) => s.name === only);
  if (chosen.length === 0) {
    process.stderr.write(`error: no suite "${only}" (suites: ${SUITES.map((s) => s.name).join(', ')})\n`);
    return 2;
  }
  let targetsFailed = 0;
  let checksFailed = 0;
  for (const suite of chosen) {
    process.stdout.write(`== ${suite.name} ==\n`);
    try {
      const r = await suite.run(rest);
      targetsFailed += r.targetsFailed;
      checksFailed += r.checksFailed;
    } catch (err) {
      process.stderr.write(`error: ${suite.name}: ${(err as Error).message}\n`);
      return 2;
    }
  }
  if (checksFailed > 0) return 1;
  return isStrict && targetsFailed > 0 ? 1 : 0;
}

main(process.argv.slice(2)).then((code) => { process.exitCode = code; });
