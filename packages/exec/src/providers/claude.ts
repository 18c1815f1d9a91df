import { classifyError, jsonEvents, num, str } from './classify';
import { type AgentResult, BINARY, MODEL, type Provider, SESSION_ID, assertArgValue, assertSupported } from './types';

/**
 * Claude Code headless: `claude -p` with the prompt on stdin and `--output-format stream-json
 * --verbose`, so every event arrives live (a hung CLI retrying its API shows `api_retry` events and
 * the inactivity timeout sees them stop) and the final `result` event carries result, session id and
 * usage. Errors come from the result's error fields, assistant `error` fields and stderr lines.
 */
export const claude: Provider = {
  name: 'claude',
  setup: {
    install: 'npm install -g @anthropic-ai/claude-code',
    credentials: ['file:.claude/.credentials.json', 'env:ANTHROPIC_API_KEY', 'env:CLAUDE_CODE_OAUTH_TOKEN'],
    login: 'run `claude` once as this user on the member and log in (or `claude setup-token`), or set agentEnv ANTHROPIC_API_KEY',
  },
  buildArgv(o) {
    assertSupported('claude', o);
    const argv = [o.binary ? assertArgValue(o.binary, 'binary', BINARY) : 'claude', '-p', '--output-format', 'stream-json', '--verbose'];
    if (o.model) argv.push('--model', assertArgValue(o.model, 'model', MODEL));
    if (o.maxTurns !== undefined) argv.push('--max-turns', String(positiveInt(o.maxTurns)));
    if (o.resumeSessionId) argv.push('--resume', assertArgValue(o.resumeSessionId, 'session id', SESSION_ID));
    if (o.permissionMode === 'bypassPermissions') argv.push('--dangerously-skip-permissions');
    else if (o.permissionMode && o.permissionMode !== 'default') argv.push('--permission-mode', o.permissionMode);
    if (o.maxBudgetUsd !== undefined) argv.push('--max-budget-usd', String(o.maxBudgetUsd));
    if (o.fallbackModel) argv.push('--fallback-model', assertArgValue(o.fallbackModel, 'fallback model', MODEL));
    // One argument: claude's flag takes a variadic list, which would swallow a following argument.
    if (o.allowedTools?.length) argv.push('--allowedTools', o.allowedTools.join(','));
    return argv;
  },
  parse(exitCode, lines): AgentResult {
    let result: Record<string, unknown> | undefined;
    let sessionId: string | undefined;
    const errors: string[] = [];
    for (const j of jsonEvents(lines, errors)) {
      if (j.type === 'system' && j.subtype === 'init') sessionId ??= str(j.session_id);
      if (j.type === 'assistant' && typeof j.error === 'string') errors.push(j.error);
      if (j.type === 'result') result = j;
    }
    sessionId = str(result?.session_id) ?? sessionId;
    const u = (result?.usage ?? {}) as Record<string, unknown>;
    const usage = result
      ? {
          inputTokens: num(u.input_tokens) + num(u.cache_creation_input_tokens) + num(u.cache_read_input_tokens),
          outputTokens: num(u.output_tokens),
        }
      : undefined;
    const base = { sessionId, usage, costUsd: result ? num(result.total_cost_usd) : undefined };
    // The envelope decides before the exit code: claude can exit 0 with is_error, or 1 after a success.
    if (result && result.is_error !== true && !str(result.subtype)?.startsWith('error')) {
      return { ok: true, result: str(result.result) ?? '', ...base };
    }
    if (result) {
      if (result.is_error === true && typeof result.result === 'string') errors.unshift(result.result);
      if (Array.isArray(result.errors)) errors.unshift(...result.errors.filter((e): e is string => typeof e === 'string'));
      const subtype = str(result.subtype);
      if (subtype?.startsWith('error')) errors.push(subtype);
      if (typeof result.api_error_status === 'number') errors.push(`status ${result.api_error_status}`);
    } else if (exitCode === 0) {
      return { ok: false, ...base, error: { category: 'unknown', retryable: false, message: 'agent exited 0 without a result event' } };
    }
    return { ok: false, ...base, error: classifyError(exitCode, errors.join('\n')) };
  },
};

export function positiveInt(n: number): number {
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`invalid positive integer: ${n}`);
  return n;
}
