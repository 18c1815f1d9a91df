/**
 * Quoting for values that reach a shell. Every value we interpolate into a script goes through one
 * of these; nothing is ever concatenated raw. NUL cannot be represented in an argv or a shell word,
 * so it is refused rather than silently truncated.
 */
export class UnsafeValueError extends Error {
  override name = 'UnsafeValueError';
}

function refuseNul(value: string, what: string): void {
  if (value.includes('\0')) throw new UnsafeValueError(`${what} contains a NUL byte`);
}

/** POSIX sh single-quoting: 'it'\''s' — safe for any byte string without NUL, under dash and bash. */
export function shQuote(value: string, what = 'value'): string {
  refuseNul(value, what);
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** PowerShell single-quoted literal: no expansion inside, a quote is doubled (also the typographic ones). */
export function psQuote(value: string, what = 'value'): string {
  refuseNul(value, what);
  return `'${value.replace(/['\u2018\u2019\u201a\u201b]/g, (q) => q + q)}'`;
}

/**
 * Windows command-line quoting for one argument, as CommandLineToArgvW / the MSVC runtime parse it:
 * backslashes are literal unless they precede a quote; quotes are escaped with a backslash.
 */
export function winQuoteArg(value: string, what = 'value'): string {
  refuseNul(value, what);
  if (value !== '' && !/[\s"\\]/.test(value)) return value;
  let out = '"';
  let slashes = 0;
  for (const ch of value) {
    if (ch === '\\') {
      slashes++;
      continue;
    }
    if (ch === '"') {
      out += `${'\\'.repeat(slashes * 2 + 1)}"`;
    } else {
      out += '\\'.repeat(slashes) + ch;
    }
    slashes = 0;
  }
  return `${out}${'\\'.repeat(slashes * 2)}"`;
}
