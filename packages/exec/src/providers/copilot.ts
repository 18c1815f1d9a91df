import { positiveInt } from './claude';
import { classifyError, jsonEvents, num, str } from './classify';
import { type AgentResult, BINARY, MODEL, type PermissionMode, type Provider, SESSION_ID, assertArgValue, assertSupported } from './types';

/** Copilot asks for nothing without a TTY: a permission mode is what it may do unasked. */
const PERMISSIONS: Partial<Record<PermissionMode, string[]>> = {
  acceptEdits: ['write'],
  bypassPermissions: [],
  plan: [],
};

/**
 * GitHub Copilot CLI: non-interactive when its stdin is piped (the prompt file), `--output-format
 * json` prints its session events one per line: assistant.message (the answer), session.error
 * (errorType, statusCode) and a last `result` with sessionId and exitCode. Early errors (no login,
 * unknown session) are plain text before any event.
 */
export const copilot: Provider = {
  name: 'copilot',
  setup: {
    install: 'npm install -g @github/copilot',
    credentials: [
      'env:COPILOT_GITHUB_TOKEN',
      'env:GH_TOKEN',
      'env:GITHUB_TOKEN',
      'env:COPILOT_PROVIDER_BASE_URL',
      'file:.config/gh/hosts.yml',
    ],
    login:
      'run `copilot` then `/login` as this user on the member, or set agentEnv COPILOT_GITHUB_TOKEN to a fine-grained token with the Copilot Requests permission',
  },
  buildArgv(o) {
    assertSupported('copilot', o);
    const argv = [o.binary ? assertArgValue(o.binary, 'binary', BINARY) : 'copilot', '--output-format', 'json', '--no-color'];
    if (o.model) argv.push('--model', assertArgValue(o.model, 'model', MODEL));
    if (o.maxTurns !== undefined) positiveInt(o.maxTurns); // no per-run flag: copilot ends its own turns
    if (o.resumeSessionId) argv.push('--resume', assertArgValue(o.resumeSessionId, 'session id', SESSION_ID));
    if (o.permissionMode === 'bypassPermissions') argv.push('--allow-all');
    if (o.permissionMode === 'plan') argv.push('--plan');
    const allow = [...(PERMISSIONS[o.permissionMode ?? 'default'] ?? []), ...(o.allowedTools ?? [])];
    // One argument: the flag takes a variadic list, which would swallow a following argument.
    if (allow.length > 0) argv.push(`--allow-tool=${allow.join(',')}`);
    if (o.trustWorkspace) argv.push('--trust-folder');
    return argv;
  },
  parse(exitCode, lines): AgentResult {
    let sessionId: string | undefined;
    let text = '';
    let outputTokens = 0;
    let result: Record<string, unknown> | undefined;
    const errors: string[] = [];
    for (const j of jsonEvents(lines, errors)) {
      const data = (j.data ?? {}) as Record<string, unknown>;
      if (j.type === 'session.start') sessionId = str(data.sessionId) ?? sessionId;
      if (j.type === 'assistant.message') {
        text = str(data.content) || text;
        outputTokens += num(data.outputTokens);
      }
      if (j.type === 'session.error') {
        const status = typeof data.statusCode === 'number' ? ` (status ${data.statusCode})` : '';
        errors.push(`${str(data.errorType) ?? 'error'}: ${str(data.message) ?? 'session error'}${status}`);
      }
      if (j.type === 'result') result = j;
    }
    sessionId = str(result?.sessionId) ?? sessionId;
    const code = typeof result?.exitCode === 'number' ? result.exitCode : exitCode;
    const base = { sessionId, usage: { inputTokens: 0, outputTokens } };
    if (result && code === 0 && errors.length === 0) return { ok: true, result: text, ...base };
    if (!result && exitCode === 0) {
      return { ok: false, ...base, error: { category: 'unknown', retryable: false, message: 'agent exited 0 without a result event' } };
    }
    return { ok: false, ...base, error: classifyError(code === 0 ? exitCode : code, errors.join('\n')) };
  },
};
