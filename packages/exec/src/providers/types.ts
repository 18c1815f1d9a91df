/** Why an agent run failed, decided from the agent's own output and exit code only. */
export const ERROR_CATEGORIES = [
  'auth',
  'overloaded',
  'server',
  'stale_session',
  'max_turns',
  'workspace_not_trusted',
  'agent_not_found',
  'unknown',
] as const;
export type ErrorCategory = (typeof ERROR_CATEGORIES)[number];

/** Retry is decided by category alone. stale_session retries at once without resume. */
export const RETRYABLE: Readonly<Record<ErrorCategory, boolean>> = {
  auth: false,
  overloaded: true,
  server: true,
  stale_session: true,
  max_turns: false,
  workspace_not_trusted: false,
  agent_not_found: false,
  unknown: false,
};

export const PROVIDER_NAMES = ['claude', 'gemini', 'codex', 'shell'] as const;
export type ProviderName = (typeof PROVIDER_NAMES)[number];

export interface PromptOptions {
  /** Program to run instead of the provider's default binary (absolute path or a name on PATH). */
  binary?: string;
  model?: string;
  maxTurns?: number;
  /** Resume this session (the member's stored session id). */
  resumeSessionId?: string;
  /** Let the agent act without asking: the only sensible mode for a headless run. */
  skipPermissions?: boolean;
  /** Trust the work folder (gemini --skip-trust, codex --skip-git-repo-check). */
  trustWorkspace?: boolean;
}

export interface Usage {
  inputTokens: number;
  outputTokens: number;
}

export interface AgentError {
  category: ErrorCategory;
  retryable: boolean;
  message: string;
}

export interface AgentResult {
  ok: boolean;
  result?: string;
  sessionId?: string;
  usage?: Usage;
  costUsd?: number;
  error?: AgentError;
}

export interface Provider {
  readonly name: ProviderName;
  /** argv for the wrapper; the prompt arrives on stdin from the prompt file, never in argv. */
  buildArgv(opts: PromptOptions): string[];
  /** Interprets the agent's exit code and the tail of its output. */
  parse(exitCode: number, lines: readonly string[]): AgentResult;
}

/** Values that become argv elements: a leading '-' would be read as a flag, so it is refused. */
export function assertArgValue(value: string, what: string, pattern: RegExp): string {
  if (value.startsWith('-') || !pattern.test(value)) throw new Error(`invalid ${what}: ${JSON.stringify(value)}`);
  return value;
}

export const MODEL = /^[A-Za-z0-9][A-Za-z0-9._:/@[\]-]{0,127}$/;
export const SESSION_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
export const BINARY = /^[A-Za-z0-9_./][A-Za-z0-9_./+@-]{0,511}$/;
