import type { Attempt } from './attempt';

/**
 * Inactivity (no output for `inactivityMs`) and the job's total deadline abort the run. One idle
 * timer, re-armed only when it fires early: a line just moves the mark (a chatty agent must not cost
 * a timer per line). Returns `bump` (a line arrived) and `stop`.
 */
export function startTimeouts(a: Attempt, inactivityMs: number, deadlineAt: number | undefined): { bump: () => void; stop: () => void } {
  let lastOutput = Date.now();
  let idle: NodeJS.Timeout | undefined;
  const armIdle = (ms: number) => {
    idle = setTimeout(() => {
      const quiet = Date.now() - lastOutput;
      if (quiet >= inactivityMs) a.abort('inactivity');
      else armIdle(inactivityMs - quiet);
    }, ms);
  };
  armIdle(inactivityMs);
  const deadline = deadlineAt === undefined ? undefined : setTimeout(() => a.abort('timeout'), Math.max(0, deadlineAt - Date.now()));
  return {
    bump: () => {
      lastOutput = Date.now();
    },
    stop: () => {
      clearTimeout(idle);
      clearTimeout(deadline);
    },
  };
}
