import { BINARY, type AgentResult, type Provider, assertArgValue, assertSupported } from './types';

/**
 * The generic command path: the prompt is a POSIX shell script, run by `sh` from stdin. Success is
 * exit 0; the result is the output. A failing script is the user's failure: category `unknown`,
 * never retried (nothing in a script's output means "the service is overloaded").
 */
export const shell: Provider = {
  name: 'shell',
  buildArgv(o) {
    assertSupported('shell', o);
    return [o.binary ? assertArgValue(o.binary, 'binary', BINARY) : 'sh'];
  },
  parse(exitCode, lines): AgentResult {
    const text = lines.join('\n');
    if (exitCode === 0) return { ok: true, result: text };
    const message = `script exited with code ${exitCode}: ${lines.slice(-20).join('\n')}`.slice(0, 2_000);
    return { ok: false, result: text, error: { category: 'unknown', retryable: false, message } };
  },
};
