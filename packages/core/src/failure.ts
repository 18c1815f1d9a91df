import { JOB_CATEGORIES, type JobCategory } from './categories';

/**
 * A failed attempt's reason as BullMQ keeps it (failedReason, shown by Bull Board): `[category] message`.
 */
export function formatFailure(category: JobCategory, message: string): string {
  return `[${category}] ${message}`;
}

/** `[category] message` → parts; anything else is `internal`. */
export function parseFailure(reason: string | undefined): { category: JobCategory; message: string } | undefined {
  if (!reason) return undefined;
  const m = /^\[([a-z_]+)\] ?([\s\S]*)$/.exec(reason);
  if (m && (JOB_CATEGORIES as readonly string[]).includes(m[1] ?? '')) return { category: m[1] as JobCategory, message: m[2] ?? '' };
  return { category: 'internal', message: reason };
}
