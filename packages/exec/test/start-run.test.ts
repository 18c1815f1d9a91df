import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from '@fleet/testkit';
import { afterAll, describe, expect, it } from 'vitest';
import { prepareRunDir } from './helpers/run-dir';

const SH = (name: string) => new URL(`../src/os/linux/sh/${name}.sh`, import.meta.url).pathname;
const SUPERVISOR = readFileSync(SH('supervisor'), 'utf8');

/**
 * A run's start (start-run.sh) learns the record's line 1 from the supervisor's stdout, which the
 * supervisor lets go of once it has written the record: no poll. Without that line the record decides.
 */
describe('the start reads the PID from the supervisor (linux sh)', () => {
  const work = mkdtempSync(join(tmpdir(), 'fleet-start-'));
  afterAll(() => rmSync(work, { recursive: true, force: true }));
  let seq = 0;

  function start(supervisor: string, prompt: string) {
    const { runDir, record } = prepareRunDir(work, prompt, `s${++seq}`);
    const r = spawnSync('sh', [SH('start-run'), runDir, work, supervisor, 'sh'], { encoding: 'utf8' });
    return { runDir, record, out: r.stdout, code: r.status };
  }

  it('answers with the record the supervisor wrote, and the agent runs to its end', async () => {
    const canary = join(work, 'canary-ok');
    const { out, record } = start(SUPERVISOR, `touch '${canary}'\n`);
    const line1 = record().split('\n')[0] ?? '';
    expect(out).toBe(`FLEET_PID:${line1.split(':')[0]}\nFLEET_ID:${line1.slice(line1.indexOf(':') + 1)}\n`);
    await waitFor(() => record().split('\n')[1] === '0', { what: 'exit code recorded' });
    expect(existsSync(canary)).toBe(true);
  });

  it('a supervisor that wrote its record but printed nothing: the answer comes from the record', () => {
    const { out } = start('echo "4242:b00t:77" > "$1/pid"', 'true\n');
    expect(out).toBe('FLEET_PID:4242\nFLEET_ID:b00t:77\n');
  });

  it('a supervisor that ended without a record: the run is claimed, so nothing can start it later', () => {
    const { out, code, record } = start('exit 3', 'true\n');
    expect(out).toBe('FLEET_ERR:spawn_failed\n');
    expect(code).toBe(97);
    expect(record()).toBe('abandoned\n');
  });

  it('a supervisor whose reader is gone before it prints still runs the agent (no SIGPIPE)', async () => {
    const { runDir, record } = prepareRunDir(work, `touch '${join(work, 'canary-pipe')}'\n`, 'pipe');
    const child = spawn('sh', ['-c', SUPERVISOR, 'fleet-run', runDir, 'sh'], { stdio: ['ignore', 'pipe', 'ignore'] });
    // The read end is closed before the supervisor can have written: its one write meets no reader.
    child.stdout.destroy();
    await waitFor(() => record().split('\n')[1] === '0', { what: 'exit code recorded' });
    expect(existsSync(join(work, 'canary-pipe'))).toBe(true);
  });
});
