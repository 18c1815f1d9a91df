import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * A run directory in `work` as the transport prepares one (0700, the prompt written), for tests that
 * start runs through the spawn helper directly; `record()` reads its `pid` file ('' while absent).
 */
export function prepareRunDir(work: string, prompt: string, name = 'r1'): { runDir: string; record: () => string } {
  const runDir = join(work, '.fleet', 'runs', name);
  mkdirSync(runDir, { recursive: true, mode: 0o700 });
  writeFileSync(join(runDir, 'prompt'), prompt);
  const pid = join(runDir, 'pid');
  return { runDir, record: () => (existsSync(pid) ? readFileSync(pid, 'utf8') : '') };
}
