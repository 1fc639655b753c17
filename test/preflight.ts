// Runs before `npm test` (pretest): the suite drives real tools — tcpdump and network namespaces
// need root, tshark is the peer the decoders are checked against, Chromium runs the UI tests —
// so a machine without one gets a single line naming what to install, not dozens of ENOENT
// failures. .ci/run installs the same list.
import { spawnSync } from 'node:child_process';

const TOOLS: { command: string; args: string[]; debianPackage: string }[] = [
  { command: 'tcpdump', args: ['--version'], debianPackage: 'tcpdump' },
  { command: 'tshark', args: ['--version'], debianPackage: 'tshark' },
  { command: 'chromium', args: ['--version'], debianPackage: 'chromium' },
  { command: 'ip', args: ['-V'], debianPackage: 'iproute2' },
  { command: 'iptables', args: ['--version'], debianPackage: 'iptables' },
  { command: 'openssl', args: ['version'], debianPackage: 'openssl' },
];

const missing = TOOLS.filter((t) => {
  const r = spawnSync(t.command, t.args, { stdio: 'ignore' });
  return r.error !== undefined;
}).map((t) => t.debianPackage);

const problems: string[] = [];
if (missing.length > 0) problems.push(`missing tools: apt-get install -y ${missing.join(' ')}`);
if (process.getuid?.() !== 0) problems.push('the capture and network-namespace tests need root');
if (problems.length > 0) {
  process.stderr.write(`npm test cannot run here: ${problems.join('; ')} (.ci/run does both)\n`);
  process.exit(1);
}
