// The root command table loads commands on use; each entry must name the command it loads, and
// the order must let longer paths win (graph diff before graph, inventory load before inventory).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { COMMANDS, loadCommand } from '../../../trustmap.js';
import { runCli } from '../../helpers/cli.js';

describe('command table', () => {
  it('every entry loads the command it names, with help and a summary', async () => {
    for (const e of COMMANDS) {
      const cmd = await loadCommand(e);
      assert.deepEqual(cmd.path, e.path);
      assert.ok(e.summary.length > 0 && !e.summary.includes('\n'), `${e.path.join(' ')} has a one-line summary`);
      assert.match(cmd.help, /Usage|usage/, `${e.path.join(' ')} has usage in its help`);
    }
  });

  it('trustmap --help lists every command without loading any', () => {
    const r = runCli(['--help']);
    assert.equal(r.code, 0);
    for (const e of COMMANDS) assert.match(r.stdout, new RegExp(`\\n  ${e.path.join(' ')} +${e.summary.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\n`));
    const loaded = runCli(['--help'], { env: { NODE_DEBUG: 'esm' } });
    assert.doesNotMatch(loaded.stderr, /\/cli\/(commands|live|merge|telemetry|inventory|graph|readiness|policy|simulate|drift|demo|serve)\.js/, 'no command module was loaded');
  });

  it('no entry is shadowed by an earlier, shorter one', () => {
    COMMANDS.forEach((e, i) => {
      const earlier = COMMANDS.slice(0, i).find((p) => p.path.every((w, k) => e.path[k] === w));
      assert.equal(earlier, undefined, `${e.path.join(' ')} is shadowed by ${earlier?.path.join(' ')}`);
    });
  });

  it('a mismatched entry is refused on load', async () => {
    const wrong = { path: ['calls'], summary: 'x', load: COMMANDS.find((e) => e.path.join(' ') === 'captures')!.load };
    await assert.rejects(loadCommand(wrong), /command table: "calls" loads "captures"/);
  });
});
