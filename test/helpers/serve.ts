// Test helper: `trustmap serve ARGS` (or `trustmap demo ARGS`) as a real process, resolved once it
// prints its URL.
import { spawn, type ChildProcess } from 'node:child_process';
import { BIN } from './cli.js';

export interface Served { child: ChildProcess; url: string; stderr: () => string }

/** Starts `trustmap serve ARGS` and resolves once it prints its URL (or rejects with its stderr). */
export async function serve(args: string[], env: Record<string, string> = {}, command: 'serve' | 'demo' = 'serve'): Promise<Served> {
  const child = spawn(process.execPath, [BIN, command, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, TRUSTMAP_LOG_LEVEL: 'warn', TRUSTMAP_TOKEN: '', ...env },
  });
  let out = '', err = '';
  child.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start: ${err}`)), 20_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /trustmap UI: (http:\/\/\S+)/.exec(out);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    });
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`serve exited ${code}: ${err}`)); });
  });
  return { child, url, stderr: () => err };
}
