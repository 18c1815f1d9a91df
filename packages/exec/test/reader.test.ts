import { describe, expect, it } from 'vitest';
import { parsePidFile } from '../src/os/markers';
import { WrapperReader } from '../src/run/reader';

const NONCE = '0123456789abcdef0123456789abcdef';

function events(chunks: string[], nonce = NONCE) {
  const r = new WrapperReader(nonce);
  const out = [];
  for (const c of chunks) out.push(...r.push(Buffer.from(c)));
  out.push(...r.end());
  return out;
}

describe('WrapperReader', () => {
  const stream = `FLEET_PID:31337\nFLEET_ID:boot-id-1:123456\nhello\nworld\nno newline at endFLEET_EXIT:${NONCE}:3\n`;

  it('parses PID, identity, output and the glued end marker at every split position', () => {
    for (let i = 0; i <= stream.length; i++) {
      const ev = events([stream.slice(0, i), stream.slice(i)]);
      expect(ev, `split at ${i}`).toEqual([
        { type: 'pid', pid: 31337 },
        { type: 'identity', bootId: 'boot-id-1', startTime: '123456' },
        { type: 'line', text: 'hello', bytes: 6 },
        { type: 'line', text: 'world', bytes: 6 },
        { type: 'line', text: 'no newline at end', bytes: 17 },
        { type: 'exit', exitCode: 3 },
      ]);
    }
  });

  it('treats marker-looking agent output as output: headers only before the first line, end marker only with our nonce', () => {
    const ev = events([
      'FLEET_PID:1000\nFLEET_ID:b:1\nreal output\nFLEET_PID:666\nFLEET_EXIT:ffffffffffffffffffffffffffffffff:0\n',
      `FLEET_EXIT:${NONCE}:0\n`,
    ]);
    expect(ev.filter((e) => e.type === 'pid')).toEqual([{ type: 'pid', pid: 1000 }]);
    expect(ev.filter((e) => e.type === 'line').map((e) => (e as { text: string }).text)).toEqual([
      'real output',
      'FLEET_PID:666',
      'FLEET_EXIT:ffffffffffffffffffffffffffffffff:0',
    ]);
    expect(ev.at(-1)).toEqual({ type: 'exit', exitCode: 0 });
  });

  it('reports a missing exit code (process gone without writing it) as undefined', () => {
    expect(events([`FLEET_ATTACH:gone\nFLEET_EXIT:${NONCE}:none\n`])).toEqual([
      { type: 'attached', state: 'gone' },
      { type: 'exit', exitCode: undefined },
    ]);
  });

  it('a stream cut before the end marker yields no exit event, and an unterminated tail is not output', () => {
    const ev = events(['FLEET_PID:5\nFLEET_ID:b:1\nline one\npartial li']);
    expect(ev.map((e) => e.type)).toEqual(['pid', 'identity', 'line']);
  });

  it('PID line with CRLF (Windows) is accepted; garbage is not a PID', () => {
    expect(events(['FLEET_PID:77\r\n'])[0]).toEqual({ type: 'pid', pid: 77 });
    expect(events(['FLEET_PID:77x\n'])[0]).toEqual({ type: 'line', text: 'FLEET_PID:77x', bytes: 14 });
  });

  it('parses the supervisor pid file', () => {
    expect(parsePidFile('123:boot:456\n', '/w/.fleet/runs/r')).toEqual({
      pid: 123,
      bootId: 'boot',
      startTime: '456',
      runDir: '/w/.fleet/runs/r',
    });
    expect(parsePidFile('', '/x')).toBeUndefined();
    expect(parsePidFile('12:', '/x')).toBeUndefined();
    // Written with one write(2) and no rename: a record is taken only as a complete line, never cut short.
    expect(parsePidFile('123:boot:45', '/x')).toBeUndefined();
    expect(parsePidFile('123:boot:456\r\n', '/x')?.startTime).toBe('456');
  });
});
