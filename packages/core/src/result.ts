/** What a succeeded job returns. */
export interface PromptJobResult {
  result: string;
  sessionId?: string;
  usage?: { inputTokens: number; outputTokens: number };
  costUsd?: number;
  exitCode: number;
  attempts: number;
  pid?: number;
  runDir: string;
  durationMs: number;
}

/** The job result as readable hash fields (the success transition stores them), and back. */
export function encodeResult(r: PromptJobResult): Record<string, string | number | undefined> {
  return {
    result: r.result,
    sessionId: r.sessionId,
    exitCode: r.exitCode,
    attempts: r.attempts,
    pid: r.pid,
    runDir: r.runDir,
    durationMs: r.durationMs,
    tokensIn: r.usage?.inputTokens,
    tokensOut: r.usage?.outputTokens,
    costUsd: r.costUsd,
  };
}

export function decodeResult(h: Record<string, string>): PromptJobResult {
  const r: PromptJobResult = {
    result: h.result ?? '',
    exitCode: Number(h.exitCode ?? 0),
    attempts: Number(h.attempts ?? 1),
    runDir: h.runDir ?? '',
    durationMs: Number(h.durationMs ?? 0),
  };
  if (h.sessionId) r.sessionId = h.sessionId;
  if (h.pid) r.pid = Number(h.pid);
  if (h.tokensIn !== undefined) r.usage = { inputTokens: Number(h.tokensIn), outputTokens: Number(h.tokensOut ?? 0) };
  if (h.costUsd !== undefined) r.costUsd = Number(h.costUsd);
  return r;
}
