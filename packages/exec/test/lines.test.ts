import { describe, expect, it } from 'vitest';
import { LineSplitter } from '../src/lines';

function feed(chunks: Buffer[]): { lines: string[]; consumed: number } {
  const s = new LineSplitter();
  const lines: string[] = [];
  for (const c of chunks) lines.push(...s.push(c).map((l) => l.text));
  return { lines, consumed: s.consumed };
}

describe('LineSplitter', () => {
  const text = Buffer.from('FLEET_PID:4242\nFLEET_ID:b00t:99\r\nhéllo wörld ✓\n\nlast\n');
  const expected = ['FLEET_PID:4242', 'FLEET_ID:b00t:99', 'héllo wörld ✓', '', 'last'];

  it('gives the same lines for every single split position (including inside UTF-8 sequences)', () => {
    for (let i = 0; i <= text.length; i++) {
      const r = feed([text.subarray(0, i), text.subarray(i)]);
      expect(r.lines, `split at ${i}`).toEqual(expected);
      expect(r.consumed).toBe(text.length);
    }
  });

  it('gives the same lines for every pair of split positions', () => {
    for (let i = 0; i <= text.length; i++) {
      for (let j = i; j <= text.length; j++) {
        const r = feed([text.subarray(0, i), text.subarray(i, j), text.subarray(j)]);
        expect(r.lines).toEqual(expected);
      }
    }
  });

  it('byte-at-a-time works, and a PID line glued to the next line in one chunk splits', () => {
    const bytes = [...text].map((b) => Buffer.from([b]));
    expect(feed(bytes).lines).toEqual(expected);
    expect(feed([Buffer.from('FLEET_PID:7\nfirst output\n')]).lines).toEqual(['FLEET_PID:7', 'first output']);
  });

  it('keeps an unterminated tail until flush and counts bytes per line', () => {
    const s = new LineSplitter();
    expect(s.push(Buffer.from('a\r\nbc'))).toEqual([{ text: 'a', bytes: 3 }]);
    expect(s.consumed).toBe(3);
    expect(s.flush()).toEqual({ text: 'bc', bytes: 2 });
    expect(s.consumed).toBe(5);
  });

  it('bounds memory on a newline-free flood without losing or reordering bytes', () => {
    const s = new LineSplitter(1024);
    const big = Buffer.from('é'.repeat(3000)); // 6000 bytes, no newline
    const out = s.push(big);
    const rest = s.flush();
    const joined = out.map((l) => l.text).join('') + (rest?.text ?? '');
    expect(joined).toBe('é'.repeat(3000));
    expect(out.every((l) => l.bytes <= 1024)).toBe(true);
  });
});
