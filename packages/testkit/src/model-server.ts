import { type Server, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/** How the loopback model endpoint answers: a streamed "hi there" with usage, or an HTTP error. */
export type ModelServerMode = 'ok' | 429 | 500 | 401;

export interface ModelServer {
  /** OpenAI-compatible base URL (`http://127.0.0.1:<port>/v1`). */
  url: string;
  /** Chat requests served so far. */
  requests(): number;
  stop(): Promise<void>;
}

const ERRORS = {
  429: { error: { message: 'Rate limit reached for requests', type: 'rate_limit_exceeded', code: 'rate_limit_exceeded' } },
  500: { error: { message: 'The server had an error while processing your request.', type: 'server_error' } },
  401: { error: { message: 'Incorrect API key provided.', type: 'invalid_request_error', code: 'invalid_api_key' } },
} as const;

/**
 * A loopback OpenAI-compatible chat endpoint, so the real agent CLIs (copilot with BYOK, opencode
 * with a custom provider) run end to end here with no account: the CLI is real, only the model is not.
 */
export async function startModelServer(mode: ModelServerMode = 'ok', port = 0): Promise<ModelServer> {
  let served = 0;
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => {
      body += c.toString();
    });
    req.on('end', () => {
      if (req.url?.endsWith('/models')) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ object: 'list', data: [{ id: 'gpt-4o', object: 'model' }] }));
        return;
      }
      served++;
      if (mode !== 'ok') {
        res.writeHead(mode, { 'content-type': 'application/json', 'retry-after': '1' });
        res.end(JSON.stringify(ERRORS[mode]));
        return;
      }
      answer(res, parseStream(body));
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const { port: bound } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${bound}/v1`,
    requests: () => served,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function parseStream(body: string): boolean {
  try {
    return (JSON.parse(body) as { stream?: unknown }).stream === true;
  } catch {
    return false;
  }
}

function answer(res: import('node:http').ServerResponse, stream: boolean): void {
  const created = Math.floor(Date.now() / 1000);
  const usage = { prompt_tokens: 12, completion_tokens: 3, total_tokens: 15 };
  const base = { id: 'c1', created, model: 'gpt-4o' };
  if (!stream) {
    res.writeHead(200, { 'content-type': 'application/json' });
    const choice = { index: 0, message: { role: 'assistant', content: 'hi there' }, finish_reason: 'stop' };
    res.end(JSON.stringify({ ...base, object: 'chat.completion', choices: [choice], usage }));
    return;
  }
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  const chunk = (choices: unknown[], extra: Record<string, unknown> = {}) =>
    res.write(`data: ${JSON.stringify({ ...base, object: 'chat.completion.chunk', choices, ...extra })}\n\n`);
  chunk([{ index: 0, delta: { role: 'assistant', content: 'hi ' }, finish_reason: null }]);
  chunk([{ index: 0, delta: { content: 'there' }, finish_reason: null }]);
  chunk([{ index: 0, delta: {}, finish_reason: 'stop' }]);
  chunk([], { usage });
  res.end('data: [DONE]\n\n');
}
