import { type ErrorCategory, type PermissionMode, type ProviderName, TOOL_RULE, unsupportedOptions } from '@fleet/core';

export { ERROR_CATEGORIES, type ErrorCategory, type PermissionMode, PROVIDER_NAMES, type ProviderName, RETRYABLE } from '@fleet/core';

export interface PromptOptions {
  /** Program to run instead of the provider's default binary (absolute path or a name on PATH). */
  binary?: string;
  model?: string;
  maxTurns?: number;
  /** Resume this session (the member's stored session id). */
  resumeSessionId?: string;
  /** How far the agent may act without asking (a headless run cannot ask: bypassPermissions by default). */
  permissionMode?: PermissionMode;
  /** Stop once the run's API cost reaches this many US dollars. */
  maxBudgetUsd?: number;
  /** The model to fall back to when the chosen one is overloaded. */
  fallbackModel?: string;
  /** Tool rules the agent may use without asking (`Edit`, `Bash(git *)`). */
  allowedTools?: readonly string[];
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
  /** usage_limit: when the agent said its limit resets (epoch ms). */
  resetAt?: number;
}

export interface AgentResult {
  ok: boolean;
  result?: string;
  sessionId?: string;
  usage?: Usage;
  costUsd?: number;
  error?: AgentError;
}

/** What a member needs before this CLI can run: how `fleet members check` looks and what it tells. */
export interface ProviderSetup {
  install: string;
  /** Where a login may be: `file:<path under $HOME>` or `env:<NAME>` (any one is enough). */
  credentials: readonly string[];
  login: string;
}

export interface Provider {
  readonly name: ProviderName;
  /** Undefined for a plain command, which needs no login. */
  readonly setup?: ProviderSetup;
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

export { MODEL_NAME as MODEL, ID_TOKEN as SESSION_ID, PROGRAM_PATH as BINARY } from '@fleet/core';

/** Throws unless `provider` offers every option set in `o`; checks each tool rule. */
export function assertSupported(provider: ProviderName, o: PromptOptions): void {
  const why = unsupportedOptions(provider, o);
  if (why) throw new Error(why);
  for (const t of o.allowedTools ?? []) assertArgValue(t, 'tool rule', TOOL_RULE);
  if (o.maxBudgetUsd !== undefined && !(Number.isFinite(o.maxBudgetUsd) && o.maxBudgetUsd > 0)) {
    throw new Error(`invalid maxBudgetUsd: ${o.maxBudgetUsd}`);
  }
}
