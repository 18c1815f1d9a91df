import { type Line, LineSplitter } from '../lines';
import { ATTACH_LINE, ERR_LINE, ID_LINE, PID_LINE, type ProbeState, matchExit } from '../os/markers';

/** What a wrapper stream says, in order. */
export type WrapperEvent =
  | { type: 'pid'; pid: number }
  | { type: 'identity'; bootId: string; startTime: string }
  | { type: 'attached'; state: ProbeState }
  | { type: 'error'; reason: string }
  | { type: 'line'; text: string; bytes: number }
  | { type: 'exit'; exitCode: number | undefined };

/**
 * Turns the raw bytes of one wrapper (or reattach) stream into events. Header lines are only
 * recognised before the first output line; after it every line is the agent's, except the one
 * carrying this stream's nonce'd end marker. Bytes are counted per output line so a reattach can
 * resume at exactly the next undelivered byte.
 */
export class WrapperReader {
  private readonly splitter = new LineSplitter();
  private header = true;
  private finished = false;

  constructor(private readonly nonce: string) {}

  get done(): boolean {
    return this.finished;
  }

  push(chunk: Buffer): WrapperEvent[] {
    return this.classify(this.splitter.push(chunk));
  }

  /** End of stream: an unterminated last line only counts if it carries the end marker. */
  end(): WrapperEvent[] {
    const tail = this.splitter.flush();
    if (!tail || this.finished) return [];
    const m = matchExit(tail.text, this.nonce);
    return m ? this.classify([tail]) : [];
  }

  private classify(lines: Line[]): WrapperEvent[] {
    const out: WrapperEvent[] = [];
    for (const line of lines) {
      if (this.finished) break;
      if (this.header) {
        const ev = headerEvent(line.text);
        if (ev) {
          out.push(ev);
          if (ev.type === 'error') this.finished = true;
          continue;
        }
        this.header = false;
      }
      const m = matchExit(line.text, this.nonce);
      if (m) {
        if (m.before.length > 0) out.push({ type: 'line', text: m.before, bytes: Buffer.byteLength(m.before) });
        out.push({ type: 'exit', exitCode: m.exit === 'none' ? undefined : Number(m.exit) });
        this.finished = true;
        break;
      }
      out.push({ type: 'line', text: line.text, bytes: line.bytes });
    }
    return out;
  }
}

function headerEvent(text: string): WrapperEvent | undefined {
  let m = PID_LINE.exec(text);
  if (m) return { type: 'pid', pid: Number(m[1]) };
  m = ID_LINE.exec(text);
  if (m) return { type: 'identity', bootId: m[1] ?? '', startTime: m[2] ?? '' };
  m = ATTACH_LINE.exec(text);
  if (m) return { type: 'attached', state: m[1] as ProbeState };
  m = ERR_LINE.exec(text);
  if (m) return { type: 'error', reason: m[1] ?? 'unknown' };
  return undefined;
}
