import { classifyError, jsonEvents, num, str } from './classify';
import { type AgentResult, BINARY, MODEL, type PermissionMode, type Provider, SESSION_ID, assertArgValue, assertSupported } from './types';

/** `codex exec` never asks; a permission mode is the sandbox it runs commands in. */
const SANDBOX: Partial<Record<PermissionMode, string[]>> = {
  acceptEdits: ['--sandbox', 'workspace-write'],
  bypassPermissions: ['--dangerously-bypass-approvals-and-sandbox'],
  plan: ['--sandbox', 'read-only'],
};

/**
 * Codex: `codex exec --json -` (prompt from stdin) or `codex exec resume <id> --json -`. JSONL events:
 * thread.started (thread_id = session), item.completed (agent_message text), turn.completed (usage),
 * error / turn.failed. Non-JSON lines are its stderr log.
 */
export const codex: Provider = {
  name: 'codex',
  setup: {
    install: 'npm install -g @openai/codex',
    credentials: ['file:.codex/auth.json', 'env:OPENAI_API_KEY', 'env:CODEX_API_KEY'],
    login: 'run `codex login` as this user on the member, or set agentEnv OPENAI_API_KEY',
  },
  buildArgv(o) {
    assertSupported('codex', o);
    const argv = [o.binary ? assertArgValue(o.binary, 'binary', BINARY) : 'codex', 'exec'];
    if (o.resumeSessionId) argv.push('resume', assertArgValue(o.resumeSessionId, 'session id', SESSION_ID));
    argv.push('--json');
    if (o.model) argv.push('--model', assertArgValue(o.model, 'model', MODEL));
    argv.push(...((o.permissionMode && SANDBOX[o.permissionMode]) ?? []));
    if (o.trustWorkspace) argv.push('--skip-git-repo-check');
    argv.push('-');
    return argv;
  },
  parse(exitCode, lines): AgentResult {
    let sessionId: string | undefined;
    let text = '';
    let inputTokens = 0;
    let outputTokens = 0;
    let completed = false;
    const errors: string[] = [];
    const other: string[] = [];
    for (const j of jsonEvents(lines, other)) {
      if (j.type === 'thread.started') sessionId = str(j.thread_id) ?? sessionId;
      const item = j.item as Record<string, unknown> | undefined;
      if (j.type === 'item.completed' && item?.type === 'agent_message') text = str(item.text) ?? text;
      if (j.type === 'turn.completed') {
        completed = true;
        const u = (j.usage ?? {}) as Record<string, unknown>;
        inputTokens += num(u.input_tokens);
        outputTokens += num(u.output_tokens);
      }
      if (j.type === 'error') errors.push(str(j.message) ?? '');
      if (j.type === 'turn.failed') errors.push(str((j.error as Record<string, unknown> | undefined)?.message) ?? 'turn failed');
    }
    const base = { sessionId, usage: { inputTokens, outputTokens } };
    if (exitCode === 0 && completed) return { ok: true, result: text, ...base };
    const plain = other.filter((l) => !/^WARNING: proceeding/.test(l));
    const errorText = [...errors, ...plain].join('\n');
    if (exitCode === 0) {
      return {
        ok: false,
        ...base,
        error: { category: 'unknown', retryable: false, message: errorText || 'agent exited 0 without turn.completed' },
      };
    }
    return { ok: false, ...base, error: classifyError(exitCode, errorText) };
  },
};
