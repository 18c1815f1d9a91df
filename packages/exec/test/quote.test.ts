import { spawnSync } from 'node:child_process';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { UnsafeValueError, psQuote, shQuote, winQuoteArg } from '../src/quote';

/** What dash makes of `printf %s <quoted>`: must be the original bytes. */
function throughDash(values: string[]): string[] {
  const script = values.map((v) => `printf '%s\\0' ${shQuote(v)}`).join('\n');
  const r = spawnSync('dash', ['-s'], { input: script });
  expect(r.status).toBe(0);
  return r.stdout.toString('utf8').split('\0').slice(0, -1);
}

describe('shQuote', () => {
  it('round-trips hostile strings through dash byte-exact', () => {
    const hostile = [
      `it's`,
      '$(touch /tmp/pwned)',
      '`id`',
      'a\nb',
      '; rm -rf /',
      '"double"',
      '\\',
      '-rf',
      '✓ ünïcode',
      '$HOME',
      "'''",
      '',
      '*',
      '~',
    ];
    expect(throughDash(hostile)).toEqual(hostile);
  });

  it('round-trips arbitrary unicode strings (property)', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.string({ unit: 'grapheme', maxLength: 40 }).filter((s) => !s.includes('\0')),
          { maxLength: 8 },
        ),
        (vals) => {
          expect(throughDash(vals)).toEqual(vals);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('refuses NUL', () => {
    expect(() => shQuote('a\0b')).toThrow(UnsafeValueError);
    expect(() => psQuote('a\0b')).toThrow(UnsafeValueError);
    expect(() => winQuoteArg('a\0b')).toThrow(UnsafeValueError);
  });
});

describe('psQuote / winQuoteArg', () => {
  it('doubles single quotes (including typographic ones) in PowerShell literals', () => {
    expect(psQuote(`it's`)).toBe(`'it''s'`);
    expect(psQuote('a\u2019b')).toBe(`'a\u2019\u2019b'`);
    expect(psQuote('$(calc)')).toBe(`'$(calc)'`);
  });

  it('quotes Windows argv per CommandLineToArgvW rules', () => {
    expect(winQuoteArg('simple')).toBe('simple');
    expect(winQuoteArg('')).toBe('""');
    expect(winQuoteArg('two words')).toBe('"two words"');
    expect(winQuoteArg('say "hi"')).toBe('"say \\"hi\\""');
    expect(winQuoteArg('C:\\path with\\')).toBe('"C:\\path with\\\\"');
    expect(winQuoteArg('a\\\\"b')).toBe('"a\\\\\\\\\\"b"');
  });
});
