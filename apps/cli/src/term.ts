/** Terminal presentation: colour only on a TTY without NO_COLOR, a spinner only on a TTY. */

const env = process.env;

export function colorOn(stream: NodeJS.WriteStream): boolean {
  return Boolean(stream.isTTY) && !env.NO_COLOR && env.TERM !== 'dumb';
}

export interface Paint {
  dim(s: string): string;
  bold(s: string): string;
  green(s: string): string;
  red(s: string): string;
  cyan(s: string): string;
}

export function paint(stream: NodeJS.WriteStream): Paint {
  const on = colorOn(stream);
  const sgr = (open: number, close: number) => (s: string) => (on ? `\x1b[${open}m${s}\x1b[${close}m` : s);
  return { dim: sgr(2, 22), bold: sgr(1, 22), green: sgr(32, 39), red: sgr(31, 39), cyan: sgr(36, 39) };
}

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

/** A one-line status on stderr, redrawn in place on a TTY; elsewhere nothing is drawn. */
export class Spinner {
  private text = '';
  private frame = 0;
  private readonly timer: NodeJS.Timeout | undefined;
  private readonly tty = Boolean(process.stderr.isTTY);

  constructor(text: string) {
    this.text = text;
    if (this.tty) this.timer = setInterval(() => this.draw(), 100);
  }

  set(text: string): void {
    this.text = text;
  }

  /** Clears the line so that other output can be written; the next tick draws it again. */
  clear(): void {
    if (this.tty) process.stderr.write('\r\x1b[K');
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.clear();
  }

  private draw(): void {
    const width = Math.max(10, (process.stderr.columns ?? 80) - 1);
    process.stderr.write(`\r\x1b[K${`${FRAMES[this.frame++ % FRAMES.length]} ${this.text}`.slice(0, width)}`);
  }
}
