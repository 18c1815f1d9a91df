/** What `fleet members check` reports: one line per thing a member needs, each with its fix. */
export const CHECK_STATUSES = ['ok', 'warn', 'fail'] as const;
export type CheckStatus = (typeof CHECK_STATUSES)[number];

/** The checks, in the order they are reported. */
export const CHECK_NAMES = ['connect', 'host key', 'files', 'work folder', 'agent', 'login', 'permissions'] as const;
export type CheckName = (typeof CHECK_NAMES)[number];

export interface CheckLine {
  check: CheckName;
  status: CheckStatus;
  detail: string;
  /** What to do about a warn or a fail. */
  fix?: string;
}

export interface MemberCheckReport {
  memberId: string;
  /** No line failed (warnings allowed). */
  ok: boolean;
  checkedAt: number;
  durationMs: number;
  /** The worker that ran it. */
  workerId: string;
  lines: CheckLine[];
}
