// Test-only: a tcpdump capture of loopback traffic that a test drives itself, started and stopped
// deterministically so the file holds every packet of the traffic made in between.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';

export const canCaptureLoopback = (): string | false => {
  if (process.getuid?.() !== 0) return 'capturing on loopback needs root';
  if (spawnSync('tcpdump', ['--version']).status !== 0) return 'tcpdump is not installed (apt-get install tcpdump)';
  return false;
};

export interface LoopbackCapture { stop(): Promise<void> }

/**
 * Starts `tcpdump -i lo -w file filter` and resolves once it says "listening on" (before that,
 * packets are lost). --immediate-mode: with TPACKET_V3 libpcap hands packets over a block at a
 * time, so a short capture stopped within the block timeout would lose its last packets.
 */
export function captureLoopback(file: string, filter: string): Promise<LoopbackCapture> {
  const child: ChildProcess = spawn('tcpdump', ['-i', 'lo', '-U', '--immediate-mode', '-n', '-w', file, filter], { stdio: ['ignore', 'ignore', 'pipe'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGINT');
    await exited;
  };
  return new Promise((resolve, reject) => {
    let said = '';
    const fail = (why: string): void => { void stop(); reject(new Error(`tcpdump: ${why}: ${said.trim()}`)); };
    const timer = setTimeout(() => fail('not listening after 10 s'), 10_000);
    child.stderr!.on('data', (d: Buffer) => {
      said += d.toString();
      if (said.includes('listening on')) { clearTimeout(timer); resolve({ stop }); }
    });
    child.once('exit', (code) => { clearTimeout(timer); if (!said.includes('listening on')) fail(`exited ${code}`); });
  });
}
