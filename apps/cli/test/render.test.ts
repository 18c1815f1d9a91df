import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Transcript } from '../src/render';
import { paint } from '../src/term';

const REAL = join(__dirname, '../../../packages/exec/test/fixtures/real-cli');

/** What `fleet run` shows for a real CLI's captured event stream (colour off). */
function show(fixture: string): { screen: string; t: Transcript } {
  let screen = '';
  const t = new Transcript(paint({ isTTY: false } as NodeJS.WriteStream), (s) => {
    screen += s;
  });
  for (const l of readFileSync(join(REAL, `${fixture}.out`), 'utf8').split('\n')) if (l) t.line(l);
  t.end();
  return { screen, t };
}

describe('fleet run renders the real copilot and opencode event streams', () => {
  it('copilot: the answer once, none of its session bookkeeping', () => {
    const { screen, t } = show('copilot-json-byok-ok');
    expect(screen).toBe('hi there\n');
    expect(t.facts.durationMs).toBeGreaterThan(0);
  });

  it('copilot: a failed session says why', () => {
    expect(show('copilot-json-byok-429').screen).toMatch(/^ {2}✗ error: Failed to get response from the AI model; retried 5 times.*429/m);
  });

  it('opencode: the answer, its tokens and cost', () => {
    const { screen, t } = show('opencode-json-local-ok');
    expect(screen).toBe('hi there\n');
    expect(t.facts).toMatchObject({ inputTokens: 12, outputTokens: 3, costUsd: 0 });
  });

  it('opencode: an API error is one line', () => {
    expect(show('opencode-json-local-401').screen).toBe('  ✗ error: Incorrect API key provided.\n');
  });
});
