/**
 * Byte-exact line splitter for a live stream. A line may arrive split over any number of chunks
 * (even inside a multi-byte UTF-8 character) or glued to the next one; lines come out whole and in
 * order. `consumed` counts the bytes of the complete lines handed out (newlines included), which is
 * the offset a reattach resumes from, so no line is ever delivered twice or lost.
 */
const NL = 0x0a;

export interface Line {
  /** The line without its terminator (LF or CRLF), decoded as UTF-8. */
  text: string;
  /** Raw bytes it occupied in the stream, terminator included. */
  bytes: number;
}

export class LineSplitter {
  private pending: Buffer[] = [];
  private pendingLen = 0;
  /** Bytes of complete lines emitted so far (including their newline). */
  consumed = 0;

  constructor(private readonly maxLineBytes = 1 << 20) {}

  push(chunk: Buffer): Line[] {
    const lines: Line[] = [];
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(NL, start);
      if (nl === -1) break;
      const piece = chunk.subarray(start, nl);
      const whole = this.pendingLen > 0 ? Buffer.concat([...this.pending, piece]) : piece;
      this.pending = [];
      this.pendingLen = 0;
      this.consumed += whole.length + 1;
      lines.push({ text: decodeLine(whole), bytes: whole.length + 1 });
      start = nl + 1;
    }
    if (start < chunk.length) {
      const rest = chunk.subarray(start);
      this.pending.push(Buffer.from(rest));
      this.pendingLen += rest.length;
      // Bound memory: a newline-free flood is cut into maxLineBytes pieces (still byte-exact in order).
      while (this.pendingLen >= this.maxLineBytes) {
        const all = Buffer.concat(this.pending);
        const cut = safeCut(all, this.maxLineBytes);
        lines.push({ text: all.subarray(0, cut).toString('utf8'), bytes: cut });
        this.consumed += cut;
        const left = all.subarray(cut);
        this.pending = left.length > 0 ? [left] : [];
        this.pendingLen = left.length;
      }
    }
    return lines;
  }

  /** The unterminated tail, if any (end of stream). */
  flush(): Line | undefined {
    if (this.pendingLen === 0) return undefined;
    const all = Buffer.concat(this.pending);
    this.pending = [];
    this.pendingLen = 0;
    this.consumed += all.length;
    return { text: decodeLine(all), bytes: all.length };
  }

  /** Drop the unterminated tail without counting it (a reattach will deliver it again, whole). */
  discardPartial(): void {
    this.pending = [];
    this.pendingLen = 0;
  }
}

function decodeLine(bytes: Buffer): string {
  const end = bytes.length > 0 && bytes[bytes.length - 1] === 0x0d ? bytes.length - 1 : bytes.length;
  return bytes.subarray(0, end).toString('utf8');
}

/** Largest cut <= max that does not split a UTF-8 sequence. */
function safeCut(buf: Buffer, max: number): number {
  let cut = max;
  while (cut > 0 && ((buf[cut] ?? 0) & 0xc0) === 0x80) cut--;
  return cut === 0 ? max : cut;
}
