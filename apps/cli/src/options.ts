import { InvalidArgumentError } from 'commander';

export function positiveInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError('expected a whole number above 0');
  return n;
}

export function positiveNumber(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('expected a number above 0');
  return n;
}

/** Copies the flags that were given into the request body, under the API's field names. */
export function fieldsFrom(flags: object, names: Record<string, string>): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  for (const [flag, field] of Object.entries(names)) {
    const v = (flags as Record<string, unknown>)[flag];
    if (v !== undefined && v !== false && v !== '') body[field] = v;
  }
  return body;
}
