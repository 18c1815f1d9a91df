import { positiveInt } from './claude';
import { classifyError, jsonEvents, num, str } from './classify';
import {
  type AgentResult,
  BINARY,
  type ErrorCategory,
  MODEL,
  type PermissionMode,
  type Provider,
  SESSION_ID,
  assertArgValue,
  assertSupported,
} from './types';

/** gemini's `--approval-mode` for each permission mode it has. */
const APPROVAL: Partial<Record<PermissionMode, string>> = { acceptEdits: 'auto_edit', bypassPermissions: 'yolo', plan: 'plan' };

/**
 * Gemini CLI: non-interactive when stdin is not a terminal (the prompt file is its stdin), with
 * `--output-format stream-json` for live events. Also parses the single (pretty-printed) JSON
 * document of `--output-format json`, which is what it prints for early errors.
 */
export const gemini: Provider = {
  name: 'gemini',
  setup: {
    install: 'npm install -g @google/gemini-cli',
    credentials: ['file:.gemini/oauth_creds.json', 'env:GEMINI_API_KEY', 'env:GOOGLE_API_KEY', 'env:GOOGLE_GENAI_USE_VERTEXAI'],
    login: 'run `gemini` once as this user on the member and sign in, or set agentEnv GEMINI_API_KEY',
  },
  buildArgv(o) {
    assertSupported('gemini', o);
    const argv = [o.binary ? assertArgValue(o.binary, 'binary', BINARY) : 'gemini', '--output-format', 'stream-json'];
    if (o.model) argv.push('--model', assertArgValue(o.model, 'model', MODEL));
    if (o.maxTurns !== undefined) positiveInt(o.maxTurns); // no per-run flag; validated, set in settings.json
    if (o.resumeSessionId) argv.push('--resume', assertArgValue(o.resumeSessionId, 'session id', SESSION_ID));
    const approval = o.permissionMode && APPROVAL[o.permissionMode];
    if (approval) argv.push('--approval-mode', approval);
    if (o.trustWorkspace) argv.push('--skip-trust');
    return argv;
  },
  parse(exitCode, lines): AgentResult {
    const events: Record<string, unknown>[] = [];
    const errors: string[] = [];
    const doc = prettyDocument(lines);
    if (doc) events.push(doc);
    else {
      events.push(...jsonEvents(lines, errors));
    }
    let sessionId: string | undefined;
    let text = '';
    let inputTokens = 0;
    let outputTokens = 0;
    let sawResult = false;
    for (const e of events) {
      sessionId = str(e.session_id) ?? sessionId;
      if (e.type === 'message' && e.role === 'assistant') text += str(e.content) ?? '';
      if (typeof e.response === 'string') text = e.response;
      if (e.type === 'result' || 'response' in e) sawResult = true;
      const stats = (e.stats ?? {}) as Record<string, unknown>;
      inputTokens += num(stats.input_tokens);
      outputTokens += num(stats.output_tokens);
      const err = e.error as Record<string, unknown> | string | undefined;
      if (typeof err === 'string') errors.push(err);
      else if (err && typeof err === 'object') errors.push(str(err.message) ?? JSON.stringify(err));
      if (e.type === 'error') errors.push(str(e.message) ?? JSON.stringify(e));
    }
    const base = { sessionId, usage: { inputTokens, outputTokens } };
    if (exitCode === 0 && errors.length === 0) {
      if (!sawResult && text === '') {
        return { ok: false, ...base, error: { category: 'unknown', retryable: false, message: 'agent exited 0 without a result' } };
      }
      return { ok: true, result: text, ...base };
    }
    const error = classifyError(exitCode, errors.join('\n'));
    const byExit = EXIT_CATEGORY[exitCode];
    if (error.category === 'unknown' && byExit) return { ok: false, ...base, error: { ...error, category: byExit, retryable: false } };
    return { ok: false, ...base, error };
  },
};

/** Gemini's documented exit codes, used when its error text names nothing known. */
const EXIT_CATEGORY: Readonly<Record<number, ErrorCategory>> = { 41: 'auth', 42: 'config', 44: 'config', 52: 'config', 53: 'max_turns' };

function prettyDocument(lines: readonly string[]): Record<string, unknown> | undefined {
  const start = lines.indexOf('{');
  if (start === -1) return undefined;
  try {
    const v = JSON.parse(lines.slice(start).join('\n')) as unknown;
    return v && typeof v === 'object' ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
