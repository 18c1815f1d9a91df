import { positiveInt } from './claude';
import { classifyError, jsonEvents, num, str } from './classify';
import { type AgentResult, BINARY, MODEL, type Provider, SESSION_ID, assertArgValue, assertSupported } from './types';

/**
 * opencode: `opencode run --format json` reads the prompt from stdin and prints one event per line,
 * each with `sessionID`: step_start, text, tool_use, step_finish (tokens, cost, reason) and error
 * (`error.data.message`, `statusCode`). A step_finish whose reason is not `tool-calls` ends the run.
 * Its early errors ("Session not found") are plain stderr lines.
 */
export const opencode: Provider = {
  name: 'opencode',
  setup: {
    install: 'npm install -g opencode-ai',
    credentials: [
      'file:.local/share/opencode/auth.json',
      'file:.config/opencode/opencode.json',
      'env:ANTHROPIC_API_KEY',
      'env:OPENAI_API_KEY',
    ],
    login: 'run `opencode auth login` as this user on the member, or configure a provider in ~/.config/opencode/opencode.json',
  },
  buildArgv(o) {
    assertSupported('opencode', o);
    const argv = [o.binary ? assertArgValue(o.binary, 'binary', BINARY) : 'opencode', 'run', '--format', 'json'];
    if (o.model) argv.push('--model', assertArgValue(o.model, 'model', MODEL));
    if (o.maxTurns !== undefined) positiveInt(o.maxTurns); // no per-run flag: an agent's `steps` in opencode.json
    if (o.resumeSessionId) argv.push('--session', assertArgValue(o.resumeSessionId, 'session id', SESSION_ID));
    if (o.permissionMode === 'bypassPermissions') argv.push('--auto');
    return argv;
  },
  parse(exitCode, lines): AgentResult {
    let sessionId: string | undefined;
    let text = '';
    let finished = false;
    let inputTokens = 0;
    let outputTokens = 0;
    let costUsd = 0;
    const errors: string[] = [];
    for (const j of jsonEvents(lines, errors)) {
      sessionId = str(j.sessionID) ?? sessionId;
      const part = (j.part ?? {}) as Record<string, unknown>;
      if (j.type === 'step_start') text = '';
      if (j.type === 'text') text += str(part.text) ?? '';
      if (j.type === 'step_finish') {
        const t = (part.tokens ?? {}) as Record<string, unknown>;
        const cache = (t.cache ?? {}) as Record<string, unknown>;
        inputTokens += num(t.input) + num(cache.read) + num(cache.write);
        outputTokens += num(t.output) + num(t.reasoning);
        costUsd += num(part.cost);
        finished = part.reason !== 'tool-calls';
      }
      if (j.type === 'error') errors.push(errorText(j.error));
    }
    const base = { sessionId, usage: { inputTokens, outputTokens }, costUsd };
    if (exitCode === 0 && finished && errors.length === 0) return { ok: true, result: text, ...base };
    if (exitCode === 0 && errors.length === 0) {
      return {
        ok: false,
        ...base,
        error: { category: 'unknown', retryable: false, message: 'agent exited 0 without a final step_finish' },
      };
    }
    return { ok: false, ...base, error: classifyError(exitCode, errors.join('\n')) };
  },
};

/** `{name, data: {message, statusCode}}` as one line the classifier reads. */
function errorText(e: unknown): string {
  const err = (e ?? {}) as Record<string, unknown>;
  const data = (err.data ?? {}) as Record<string, unknown>;
  const status = typeof data.statusCode === 'number' ? ` (status ${data.statusCode})` : '';
  return `${str(err.name) ?? 'error'}: ${str(data.message) ?? 'agent error'}${status}`;
}
