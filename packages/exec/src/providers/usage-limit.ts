/**
 * When an agent's usage limit resets, read from what the CLI said: claude ("resets 3pm
 * (Europe/Berlin)", "limit reached|<epoch>"), codex (`resets_in_seconds`, "try again in 2 days 3
 * hours"), gemini (`retryDelay`, "retry in 38s"; a per-day quota resets at midnight Pacific time).
 * Undefined when the text names no time.
 */
export function usageLimitReset(text: string, now: number): number | undefined {
  for (const read of READERS) {
    const at = read(text, now);
    if (at !== undefined && Number.isFinite(at) && at > now) return Math.round(at);
  }
  return undefined;
}

const UNIT_MS: Record<string, number> = { d: 86_400_000, h: 3_600_000, m: 60_000, s: 1_000 };

const READERS: ReadonlyArray<(text: string, now: number) => number | undefined> = [
  (t, now) => {
    const m = /resets_in_seconds["': ]*(\d+)/i.exec(t);
    return m ? now + Number(m[1]) * 1_000 : undefined;
  },
  (t) => {
    const m = /limit reached\|(\d{10})\b/i.exec(t);
    return m ? Number(m[1]) * 1_000 : undefined;
  },
  (t, now) => {
    const m = /try again in ((?:\d+\s*(?:days?|hours?|minutes?|mins?|seconds?|secs?)[\s,]*(?:and\s+)?)+)/i.exec(t);
    if (!m?.[1]) return undefined;
    let ms = 0;
    for (const [, n, unit] of m[1].matchAll(/(\d+)\s*([dhms])/gi)) ms += Number(n) * (UNIT_MS[String(unit).toLowerCase()] ?? 0);
    return now + ms;
  },
  (t, now) => {
    const m = /"retryDelay"\s*:\s*"(\d+(?:\.\d+)?)s"|retry in (\d+(?:\.\d+)?)\s*s\b/i.exec(t);
    return m ? now + Number(m[1] ?? m[2]) * 1_000 : undefined;
  },
  (t, now) => {
    const m = /reset(?:s| at)?\s+(?:at\s+)?(\d{1,2})(?::(\d{2}))?\s*(am|pm)\b(?:\s*\(([A-Za-z_]+(?:\/[A-Za-z0-9_+-]+)*)\))?/i.exec(t);
    if (!m) return undefined;
    const hour = (Number(m[1]) % 12) + (m[3]?.toLowerCase() === 'pm' ? 12 : 0);
    return nextWallTime(now, hour, Number(m[2] ?? 0), m[4] ?? 'UTC');
  },
  (t, now) =>
    /RESOURCE_EXHAUSTED|quota/i.test(t) && /per ?day|PerDay|daily/i.test(t) ? nextWallTime(now, 0, 0, 'America/Los_Angeles') : undefined,
];

/** The next instant after `now` at which the clock in `timeZone` shows hour:minute. */
export function nextWallTime(now: number, hour: number, minute: number, timeZone: string): number | undefined {
  let offset: (at: number) => number;
  try {
    const f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    offset = (at) => {
      const p = Object.fromEntries(f.formatToParts(at).map((x) => [x.type, Number(x.value)]));
      return (
        Date.UTC(p.year ?? 0, (p.month ?? 1) - 1, p.day ?? 1, p.hour ?? 0, p.minute ?? 0, p.second ?? 0) - Math.floor(at / 1_000) * 1_000
      );
    };
  } catch {
    return undefined; // not a time zone this Node knows
  }
  const local = new Date(now + offset(now));
  for (let day = 0; day <= 2; day++) {
    const wall = Date.UTC(local.getUTCFullYear(), local.getUTCMonth(), local.getUTCDate() + day, hour, minute);
    const at = wall - offset(wall - offset(wall));
    if (at > now) return at;
  }
  return undefined;
}
