import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';

/**
 * `fleet` — the command line over the REST API.
 *   fleet up                                   start everything locally (like npm start)
 *   fleet members add --name N --transport ssh|local [--host H --port P --user U --key FILE | --password-env VAR]
 *                     --work-folder DIR --provider claude|gemini|codex|shell [--model M] [--os linux|windows]
 *                     [--permission-mode default|acceptEdits|auto|bypassPermissions|dontAsk|plan]
 *   fleet members list | fleet members rm <id|name> [--force]
 *   fleet run <member> "<prompt>" [--resume] [--model M] [--max-turns N] [--permission-mode M]
 *                [--max-budget-usd N] [--fallback-model M] [--allowed-tools T1,T2] [--timeout S] [--no-stream]
 *   fleet status | fleet cancel <jobId>
 * FLEET_URL (default http://127.0.0.1:8080) and FLEET_API_TOKEN (default: ./.fleet/api-token).
 */
const url = (process.env.FLEET_URL ?? 'http://127.0.0.1:8080').replace(/\/+$/, '');

function token(): string {
  if (process.env.FLEET_API_TOKEN) return process.env.FLEET_API_TOKEN;
  const f = resolve(process.env.FLEET_HOME ?? '.fleet', 'api-token');
  if (existsSync(f)) return readFileSync(f, 'utf8').trim();
  throw new CliError('no API token: set FLEET_API_TOKEN (or run from the folder where `fleet up` stored .fleet/api-token)');
}

class CliError extends Error {}
/** No answer: the API was not reached, or the connection broke before its answer (it may have acted). */
class NoAnswer extends CliError {}

async function api(
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; json: Record<string, unknown> }> {
  let res: Response;
  let text: string;
  try {
    res = await fetch(`${url}${path}`, {
      method,
      headers: { authorization: `Bearer ${token()}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    text = await res.text();
  } catch (err) {
    if (err instanceof CliError) throw err;
    const cause = (err as { cause?: { message?: string } }).cause?.message;
    throw new NoAnswer(
      `cannot reach ${url}: ${(err as Error).message}${cause ? ` (${cause})` : ''} (is \`fleet up\` running? set FLEET_URL)`,
    );
  }
  if (res.status === 502 || res.status === 503 || res.status === 504) throw new NoAnswer(`${res.status} from ${url}`);
  let json: Record<string, unknown>;
  try {
    json = text ? (JSON.parse(text) as Record<string, unknown>) : {};
  } catch {
    throw new CliError(`${res.status} from ${url}, not JSON: ${text.slice(0, 200)}`);
  }
  if (res.status >= 400) {
    const issues = Array.isArray(json.issues)
      ? `\n${(json.issues as Array<{ path: string; message: string }>).map((i) => `  ${i.path}: ${i.message}`).join('\n')}`
      : '';
    throw new CliError(`${res.status} ${String(json.message ?? json.error ?? text)}${issues}`);
  }
  return { status: res.status, json };
}

async function resolveMember(ref: string): Promise<string> {
  const { json } = await api('GET', '/v1/members');
  const members = json.members as Array<{ id: string; name: string }>;
  const m = members.find((x) => x.id === ref) ?? members.find((x) => x.name === ref);
  if (!m) throw new CliError(`no member ${ref} (fleet members list)`);
  return m.id;
}

/**
 * POST the prompt, sent again (with the same Idempotency-Key) while there is no answer: an API that
 * restarts, or a connection that breaks after the job was made. The key makes a second send return
 * the first one's job, never a second job with the same prompt.
 */
async function submit(memberId: string, body: Record<string, unknown>): Promise<{ status: number; json: Record<string, unknown> }> {
  const key = `cli-${randomUUID()}`;
  const deadline = Date.now() + 30_000;
  for (let attempt = 1; ; attempt++) {
    try {
      return await api('POST', `/v1/members/${memberId}/prompts`, body, { 'idempotency-key': key });
    } catch (err) {
      if (!(err instanceof NoAnswer) || Date.now() >= deadline) throw err;
      process.stderr.write(`${err.message}; sending again (${attempt})\n`);
      await new Promise((r) => setTimeout(r, Math.min(250 * 2 ** (attempt - 1), 4_000)));
    }
  }
}

const SPIN = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      resume: { type: 'boolean' },
      model: { type: 'string' },
      'max-turns': { type: 'string' },
      'permission-mode': { type: 'string' },
      'max-budget-usd': { type: 'string' },
      'fallback-model': { type: 'string' },
      'allowed-tools': { type: 'string' },
      timeout: { type: 'string' },
      'no-stream': { type: 'boolean' },
    },
  });
  const [ref, prompt] = positionals;
  if (!ref || prompt === undefined) throw new CliError('usage: fleet run <member> "<prompt>"');
  const id = await resolveMember(ref);
  const body: Record<string, unknown> = { prompt: prompt === '-' ? readFileSync(0, 'utf8') : prompt };
  if (values.resume) body.resume = true;
  if (values.model) body.model = values.model;
  if (values['max-turns']) body.maxTurns = Number(values['max-turns']);
  if (values['permission-mode']) body.permissionMode = values['permission-mode'];
  if (values['max-budget-usd']) body.maxBudgetUsd = Number(values['max-budget-usd']);
  if (values['fallback-model']) body.fallbackModel = values['fallback-model'];
  if (values['allowed-tools']) body.allowedTools = values['allowed-tools'].split(',');
  if (values.timeout) body.totalTimeoutS = Number(values.timeout);
  const { json } = await submit(id, body);
  const jobId = String(json.jobId);
  process.stderr.write(`job ${jobId}\n`);
  const tty = process.stderr.isTTY;
  let spin = 0;
  let status = 'queued';
  const timer = tty ? setInterval(() => process.stderr.write(`\r${SPIN[spin++ % SPIN.length]} ${status}   \r`), 100) : undefined;
  const stopSpin = () => {
    if (timer) clearInterval(timer);
    if (tty) process.stderr.write('\r\x1b[K');
  };
  const onSignal = () => {
    stopSpin();
    process.stderr.write(`\ncancelling ${jobId}…\n`);
    void api('POST', `/v1/jobs/${jobId}/cancel`).finally(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  let final: Record<string, unknown> | undefined;
  try {
    const res = await fetch(`${url}/v1/jobs/${jobId}/events`, { headers: { authorization: `Bearer ${token()}` } });
    if (!res.body) throw new CliError('no event stream');
    const decoder = new TextDecoder();
    let buf = '';
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      buf += decoder.decode(chunk, { stream: true });
      let i = buf.indexOf('\n\n');
      while (i !== -1) {
        const block = buf.slice(0, i);
        buf = buf.slice(i + 2);
        i = buf.indexOf('\n\n');
        let event = 'message';
        const data: string[] = [];
        for (const line of block.split('\n')) {
          if (line.startsWith('event: ')) event = line.slice(7);
          else if (line.startsWith('data: ')) data.push(line.slice(6));
        }
        const d = data.join('\n');
        if (event === 'pid') status = `running (pid ${d})`;
        else if (event === 'state') status = d;
        else if (event === 'output' && !values['no-stream']) {
          if (tty) process.stderr.write('\r\x1b[K');
          process.stdout.write(`${d}\n`);
        } else if (event === 'gap' && !values['no-stream']) {
          const skipped = (JSON.parse(d) as { skipped: number | null }).skipped;
          process.stderr.write(
            `… ${skipped ?? 'some'} lines not shown (the live stream keeps the last FLEET_OUTPUT_MAX_LINES; the run's out file has all)\n`,
          );
        } else if (event === 'done') final = JSON.parse(d) as Record<string, unknown>;
      }
    }
  } finally {
    stopSpin();
    process.off('SIGINT', onSignal);
  }
  if (!final) final = (await api('GET', `/v1/jobs/${jobId}`)).json;
  if (final.state === 'completed') {
    process.stderr.write(
      `✓ completed (exit ${final.exitCode}, attempts ${final.attempts}${final.sessionId ? `, session ${final.sessionId}` : ''})\n`,
    );
    if (values['no-stream'] && typeof final.result === 'string') process.stdout.write(`${final.result}\n`);
    return 0;
  }
  const e = final.error as { category?: string; message?: string } | undefined;
  process.stderr.write(`✗ ${final.state}: [${e?.category ?? 'unknown'}] ${e?.message ?? ''}\n`);
  return 1;
}

async function members(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === 'list' || sub === undefined) {
    const { json } = await api('GET', '/v1/members');
    for (const m of json.members as Array<Record<string, unknown>>) {
      process.stdout.write(
        `${m.id}  ${String(m.name).padEnd(16)} ${String(m.transport).padEnd(5)} ${String(m.provider).padEnd(7)} ${m.transport === 'ssh' ? `${m.username}@${m.host}:${m.port}` : ''} ${m.workFolder}\n`,
      );
    }
    return 0;
  }
  if (sub === 'add') {
    const { values } = parseArgs({
      args: rest,
      options: {
        name: { type: 'string' },
        transport: { type: 'string', default: 'ssh' },
        host: { type: 'string' },
        port: { type: 'string' },
        user: { type: 'string' },
        key: { type: 'string' },
        'key-path': { type: 'string' },
        'password-env': { type: 'string' },
        'host-key': { type: 'string' },
        'work-folder': { type: 'string' },
        provider: { type: 'string', default: 'claude' },
        model: { type: 'string' },
        'permission-mode': { type: 'string' },
        os: { type: 'string' },
      },
    });
    const body: Record<string, unknown> = {
      name: values.name,
      transport: values.transport,
      workFolder: values['work-folder'],
      provider: values.provider,
    };
    if (values.host) body.host = values.host;
    if (values.port) body.port = Number(values.port);
    if (values.user) body.username = values.user;
    if (values.key) body.privateKey = readFileSync(values.key, 'utf8');
    if (values['key-path']) body.privateKeyPath = values['key-path'];
    if (values['password-env']) body.password = process.env[values['password-env']];
    if (values['host-key']) body.hostKeySha256 = values['host-key'];
    if (values.model) body.model = values.model;
    if (values['permission-mode']) body.permissionMode = values['permission-mode'];
    if (values.os) body.os = values.os;
    const { json } = await api('POST', '/v1/members', body);
    process.stdout.write(`${json.id}\n`);
    return 0;
  }
  if (sub === 'rm') {
    const { values, positionals } = parseArgs({ args: rest, allowPositionals: true, options: { force: { type: 'boolean' } } });
    const id = await resolveMember(positionals[0] ?? '');
    await api('DELETE', `/v1/members/${id}${values.force ? '?force=true' : ''}`);
    process.stdout.write(`removed ${id}\n`);
    return 0;
  }
  throw new CliError(`unknown: fleet members ${sub}`);
}

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case 'up': {
      const { up } = await import('@fleet/stack');
      const f = await up();
      await new Promise<void>((r) => {
        process.once('SIGINT', r);
        process.once('SIGTERM', r);
      });
      await f.stop();
      return 0;
    }
    case 'members':
      return members(rest);
    case 'run':
      return run(rest);
    case 'status': {
      const { json } = await api('GET', '/v1/fleet/status');
      for (const m of json.members as Array<Record<string, unknown>>) {
        const q = m.queue as Record<string, number>;
        process.stdout.write(
          `${m.id}  ${String(m.name).padEnd(16)} ${String(m.status).padEnd(5)} ${m.activeJob ? `job ${m.activeJob} pid ${m.pid}` : ''}  waiting ${q.waiting} active ${q.active} failed ${q.failed}\n`,
        );
      }
      return 0;
    }
    case 'cancel': {
      const { json } = await api('POST', `/v1/jobs/${rest[0] ?? ''}/cancel`);
      process.stdout.write(`${json.cancel}\n`);
      return 0;
    }
    default:
      process.stderr.write('usage: fleet up | members add|list|rm | run <member> "<prompt>" | status | cancel <jobId>\n');
      return cmd === undefined || cmd === 'help' || cmd === '--help' ? 0 : 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: Error) => {
    process.stderr.write(`fleet: ${err instanceof CliError ? err.message : err.stack}\n`);
    process.exit(err instanceof CliError ? 2 : 1);
  },
);
