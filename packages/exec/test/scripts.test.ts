import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const OS = fileURLToPath(new URL('../src/os', import.meta.url));

/** Every shell script file under os/ (recursively). */
function shellScripts(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? shellScripts(join(dir, e.name)) : e.name.endsWith('.sh') ? [join(dir, e.name)] : [],
  );
}

describe('shell scripts are files that parse and pass shellcheck', () => {
  const scripts = shellScripts(OS);

  it('there are some', () => {
    expect(scripts.length).toBeGreaterThan(0);
  });

  it.each(scripts.map((s) => [s.slice(OS.length + 1), s]))('%s: dash -n, bash -n, shellcheck -s sh', (_name, path) => {
    execFileSync('dash', ['-n', path]);
    execFileSync('bash', ['-n', path]);
    // Throws with shellcheck's findings (or if shellcheck is not installed: CI installs it).
    execFileSync('shellcheck', ['-s', 'sh', path], { encoding: 'utf8' });
  });
});
