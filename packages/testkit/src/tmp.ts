import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A fresh directory under `base` (the OS temp folder by default), removed by `remove()`. */
export function tempDir(prefix = 'fleet-test-', base = tmpdir()): { path: string; remove(): void } {
  const path = mkdtempSync(join(base, prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 }) };
}
