import { mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isAlive } from './procs';

/** Absolute path of the fake agent CLI (packages/exec/test/fixtures/fake-agent.cjs). */
export const FAKE_AGENT = join(dirname(fileURLToPath(import.meta.url)), '../../exec/test/fixtures/fake-agent.cjs');

/**
 * The fake agent's state for one member: every agent records `pids/<pid>` (pid + start time) before
 * printing anything. Live agents are counted from those records and the process table — not from
 * anything the product itself stores.
 */
export class AgentState {
  constructor(readonly dir: string) {
    mkdirSync(join(dir, 'pids'), { recursive: true });
  }

  /** Every agent ever recorded that is alive now (the record of a killed one stays behind). */
  live(): number[] {
    const out: number[] = [];
    let names: string[] = [];
    try {
      names = readdirSync(join(this.dir, 'pids'));
    } catch {}
    for (const n of names) {
      try {
        const [pid, start] = readFileSync(join(this.dir, 'pids', n), 'utf8')
          .trim()
          .split(' ');
        if (isAlive(Number(pid), start)) out.push(Number(pid));
      } catch {}
    }
    return out;
  }

  /** Total agents ever started with this state dir. */
  started(): number {
    try {
      return readdirSync(join(this.dir, 'prompts')).length;
    } catch {
      return 0;
    }
  }

  prompt(pid: number): Buffer {
    return readFileSync(join(this.dir, 'prompts', String(pid)));
  }

  file(name: string): string {
    return readFileSync(join(this.dir, name), 'utf8');
  }

  /** Samples live() every intervalMs until stop() and reports the maximum seen. */
  sampler(intervalMs = 20): { stop(): number; max(): number } {
    let max = 0;
    const t = setInterval(() => {
      max = Math.max(max, this.live().length);
    }, intervalMs);
    return {
      max: () => max,
      stop: () => {
        clearInterval(t);
        max = Math.max(max, this.live().length);
        return max;
      },
    };
  }
}

/** A PID a fixture wrote to a file in `dir`, or 0 while the file is missing or still empty. */
export function pidIn(dir: string, name: string): number {
  try {
    return Number(readFileSync(join(dir, name), 'utf8').trim()) || 0;
  } catch {
    return 0;
  }
}
