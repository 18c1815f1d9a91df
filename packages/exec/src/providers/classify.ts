import { type AgentError, type ErrorCategory, RETRYABLE } from './types';
import { usageLimitReset } from './usage-limit';

/**
 * Error classification. Only the agent's *error text* is examined (stderr lines, a result's error
 * fields) — never tool output inside a successful transcript — and rules are ordered: the first that
 * matches wins. Exit 126/127 from the supervisor's shell means the program itself was not found.
 * A killed run or a dropped connection never reaches this function: the run layer reports those.
 */
/** An HTTP status as error text carries it: "API Error: 529", "status 500", "code": 429. */
const status = (codes: string) => `(?:status|code|http|error)["': =]*(?:${codes})\\b`;

/** claude refuses bypassPermissions as root: what to do instead. */
export const ROOT_BYPASS_FIX =
  "run this member's agent as a user other than root, or set the member's permissionMode to acceptEdits, dontAsk, auto or plan; on a machine that is itself a sandbox, agentEnv IS_SANDBOX=1 lets claude skip permissions as root";

/** Each rule: the category, what the error text says, and the fix to tell the caller (if there is one). */
const RULES: ReadonlyArray<[ErrorCategory, RegExp, string?]> = [
  ['config', /cannot be used with root\/sudo privileges/i, `fix: ${ROOT_BYPASS_FIX}`],
  [
    'stale_session',
    /No conversation found with session ID|session (?:id )?(?:\S+ )?not found|invalid session id|no (?:saved )?session found|could not find session|No session, task, or name matched/i,
  ],
  [
    'workspace_not_trusted',
    /not running in a trusted directory|Not inside a trusted directory|--skip-git-repo-check was not specified|workspace is not trusted/i,
  ],
  [
    'auth',
    new RegExp(
      String.raw`Not logged in|Please run \/login|No authentication information found|Authentication (?:failed|token found but could not be validated)|Classic Personal Access Tokens|authentication_failed|Invalid API key|invalid x-api-key|OAuth token (?:has )?expired|Please set an Auth method|API key not valid|${status('401|403')}|unauthori[sz]ed|permission_error|credit balance is too low`,
      'i',
    ),
  ],
  ['max_turns', /error_max_turns|Reached max(?:imum)? (?:number of )?turns|max[_ ]turns exceeded/i],
  ['budget', /error_max_budget_usd|max(?:imum)? budget (?:of \S+ )?(?:exceeded|reached)/i],
  [
    'usage_limit',
    /usage limit|usage_limit_reached|hit your (?:usage )?limit|(?:5-hour|weekly|daily|session) limit reached|limit will reset|RESOURCE_EXHAUSTED[\s\S]{0,400}(?:per ?day|PerDay)|quota[\s\S]{0,200}per ?day/i,
  ],
  ['overloaded', new RegExp(`overloaded|${status('429|529')}|rate[ _-]?limit|too many requests|RESOURCE_EXHAUSTED|quota exceeded`, 'i')],
  [
    'server',
    new RegExp(
      `${status('50[0-4]')}|internal server error|bad gateway|service unavailable|gateway timeout|\\bapi_error\\b|upstream connect error|could not connect to (?:the |local )?model provider|cannot connect to API`,
      'i',
    ),
  ],
];

export function classifyError(exitCode: number, errorText: string, now = Date.now()): AgentError {
  const message = summarize(errorText);
  if (exitCode === 127 || exitCode === 126) {
    return { category: 'agent_not_found', retryable: false, message: message || `exit ${exitCode}: agent program not found` };
  }
  for (const [category, re, fix] of RULES) {
    if (!re.test(errorText)) continue;
    const e: AgentError = { category, retryable: RETRYABLE[category], message: fix ? `${message} — ${fix}` : message };
    const resetAt = category === 'usage_limit' ? usageLimitReset(errorText, now) : undefined;
    if (resetAt !== undefined) e.resetAt = resetAt;
    return e;
  }
  return { category: 'unknown', retryable: false, message: message || `agent exited with code ${exitCode}` };
}

function summarize(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: strip terminal colour codes
  const clean = text.replace(/\u001b\[[0-9;]*m/g, '').trim();
  return clean.length > 2_000 ? `${clean.slice(0, 2_000)}…` : clean;
}

/** A CLI's output lines as JSON events, in order; each other non-empty line goes to `plain` as it is passed. */
export function* jsonEvents(lines: readonly string[], plain: string[]): Generator<Record<string, unknown>> {
  for (const line of lines) {
    const j = jsonLine(line);
    if (j) yield j;
    else if (line.trim()) plain.push(line);
  }
}

/** Parses a line as a JSON object, or undefined. */
function jsonLine(line: string): Record<string, unknown> | undefined {
  const t = line.trim();
  if (!t.startsWith('{')) return undefined;
  try {
    const v = JSON.parse(t) as unknown;
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

export function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

export function num(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : 0;
}
