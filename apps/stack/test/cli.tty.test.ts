import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { waitFor } from '@fleet/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stack, startStack } from './stack';

/** `fleet` in a real terminal: a tmux session, keys sent with send-keys, the screen read with capture-pane. */
const FLEET = fileURLToPath(new URL('../../cli/bin/fleet.mjs', import.meta.url));
const ESC = '\x1b';
const session = `fleet-cli-${randomBytes(4).toString('hex')}`;
const tmux = (...args: string[]) => execFileSync('tmux', ['-L', session, ...args], { encoding: 'utf8' });
/** The screen; with `escapes`, the colour codes as the terminal got them. */
const screen = (escapes = false) => tmux('capture-pane', '-p', ...(escapes ? ['-e'] : []), '-t', session);

let s: Stack;
beforeAll(async () => {
  s = await startStack();
  tmux('new-session', '-d', '-s', session, '-x', '160', '-y', '50', 'sh');
});
afterAll(async () => {
  try {
    tmux('kill-server');
  } catch {
    // already gone
  }
  await s.close();
});

/** Types a command line into the terminal and waits for its exit status line. */
async function type(line: string, marker: string): Promise<string> {
  tmux('send-keys', '-t', session, `clear; ${line}; echo "${marker} rc=$?"`, 'Enter');
  // `rc=<digit>`: the typed line itself shows `rc=$?` before `clear` runs.
  await waitFor(() => new RegExp(`${marker} rc=\\d`).test(screen()), { what: marker, timeoutMs: 60_000 });
  return screen();
}

describe('fleet CLI in a real terminal (tmux)', () => {
  it('a spinner with the run’s pid while it runs, gone when it ends; colour on a TTY, none with NO_COLOR', async () => {
    const m = await s.fakeMember('tty');
    const env = `FLEET_URL=${s.url} FLEET_API_TOKEN=${s.token}`;
    tmux('send-keys', '-t', session, `clear; ${env} node ${FLEET} run ${m.id} '@lines 1\n@sleep 3\n@lines 1'; echo "run1 rc=$?"`, 'Enter');
    // While it runs: the status line names the pid the worker persisted.
    await waitFor(() => /[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] running \(pid \d+\)/.test(screen()), { what: 'spinner with pid', timeoutMs: 30_000 });
    await waitFor(() => /run1 rc=\d/.test(screen()), { what: 'run to end', timeoutMs: 30_000 });
    const done = screen();
    expect(done).toContain('run1 rc=0');
    expect(done).toMatch(/line 1\nline 2\ndone: 2 lines\n✓ completed \(exit 0, attempts 1/);
    expect(done).not.toMatch(/[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏]/);
    expect(screen(true)).toContain(`${ESC}[32m✓ completed`);

    const plain = await type(`NO_COLOR=1 ${env} node ${FLEET} run ${m.id} '@tool Bash ls'`, 'run2');
    expect(plain).toContain('run2 rc=0');
    expect(plain).toMatch(/→ Bash {2}ls\n/);
    const raw = screen(true);
    expect(raw.slice(raw.indexOf('→ Bash'))).not.toContain(`${ESC}[3`);

    // members check: a status line while a worker checks, then one line per check, FAIL in red, exit 1
    // (the fake agent stands in for claude, and claude refuses bypassPermissions as root).
    const check = await type(`${env} node ${FLEET} members check tty`, 'check');
    expect(check).toMatch(/ok {4}agent {8}.*fake-agent\.cjs/);
    expect(check).toMatch(/FAIL {2}permissions {2}claude refuses permissionMode bypassPermissions as root\n +fix: /);
    expect(check).toContain('check rc=1');
    expect(check).not.toMatch(/[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏]/);
    // (tmux re-encodes the codes it passes on: red, maybe a background reset, then FAIL)
    expect(screen(true)).toMatch(new RegExp(`${ESC}\\[31m(?:${ESC}\\[\\d+m)*FAIL`));

    // A typo at the terminal: the suggestion, exit 2, no stack.
    const typo = await type(`${env} node ${FLEET} stauts`, 'typo');
    expect(typo).toMatch(/error: unknown command 'stauts'\n\(Did you mean status\?\)\ntypo rc=2/);
  });
});
