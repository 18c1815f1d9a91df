import { randomBytes } from 'node:crypto';
import { CHECK_NAMES, type CheckLine, type CheckName, type PermissionMode, type ProviderName } from '@fleet/core';
import { ROOT_BYPASS_FIX } from './providers/classify';
import { type ProviderSetup, getProvider } from './providers/index';
import { type Transport, isTransportError } from './transport/types';

export interface MemberCheckInput {
  transport: Transport;
  /** `user@host:port`, or `this machine` for a local member. */
  where: string;
  workFolder: string;
  provider: ProviderName;
  agentBinary?: string | undefined;
  agentEnv?: Record<string, string> | undefined;
  permissionMode: PermissionMode;
  /** SSH members: the key pinned before the check, and a read of the one pinned after it (first use pins). */
  hostKey?: { before: string | undefined; after(): Promise<string | undefined> };
}

/** How long the member may take to answer the check script (it asks the agent for its version). */
const SCRIPT_TIMEOUT_MS = 45_000;

type Put = (check: CheckName, status: CheckLine['status'], detail: string, fix?: string) => void;

/**
 * Looks at what a member needs to run an agent and reports one line per check, each with its fix:
 * the link, the host key, how files get there, the work folder, the agent's program and version, a
 * login, and whether the permission mode can run as that user. Reads only; the one file it writes
 * (a probe in the work folder) it removes.
 */
export async function checkMember(i: MemberCheckInput): Promise<CheckLine[]> {
  const lines = new Map<CheckName, CheckLine>();
  const put: Put = (check, status, detail, fix) => lines.set(check, fix ? { check, status, detail, fix } : { check, status, detail });
  const t = i.transport;

  const t0 = Date.now();
  try {
    await t.exec('echo fleet-check');
    put('connect', 'ok', `${i.where} answered in ${Date.now() - t0} ms`);
  } catch (err) {
    linkFailure(err, i, put);
    return ordered(lines);
  }
  if (i.hostKey) await hostKeyLine(i.hostKey, put);

  const probe = `${i.workFolder.replace(/[\\/]+$/, '')}/.fleet-check-${randomBytes(6).toString('hex')}`;
  const wrote = await t.writeFile(probe, 'fleet members check\n', 0o600).then(
    () => undefined,
    (err: Error) => err.message,
  );
  const files: Files = { wrote, how: FILES_VIA[t.filesVia] };
  if (!t.os.checkMemberScript) {
    put('files', wrote === undefined ? 'ok' : 'fail', wrote ?? `written through ${files.how}`);
    for (const c of ['work folder', 'agent', 'login', 'permissions'] as const)
      put(c, 'warn', `not checked on ${t.os.name} members yet`, 'run one short job to see that it works');
    return ordered(lines);
  }

  await scriptLines(i, probe, files, put);
  return ordered(lines);
}

/** What the member's check script reports: the work folder and files, the agent, its login, root. */
async function scriptLines(i: MemberCheckInput, probe: string, files: Files, put: Put): Promise<void> {
  const t = i.transport;
  if (!t.os.checkMemberScript) return;
  const provider = getProvider(i.provider);
  const program = provider.buildArgv(i.agentBinary ? { binary: i.agentBinary } : {})[0] ?? i.provider;
  const r = await t.exec(
    t.os.checkMemberScript({
      workFolder: i.workFolder,
      ...(files.wrote === undefined ? { probePath: probe } : {}),
      credentials: provider.setup?.credentials.filter((c) => !inAgentEnv(i, c)) ?? [],
      argv: [program],
      ...(i.agentEnv ? { env: i.agentEnv } : {}),
    }),
    { timeoutMs: SCRIPT_TIMEOUT_MS },
  );
  const seen = parseKeyValues(r.output);
  if (!seen.has('uid')) {
    put('work folder', 'fail', `the check script failed (exit ${r.code}): ${r.output.trim().slice(0, 500)}`);
    return;
  }
  const m: Seen = { one: (k) => seen.get(k)?.[0] ?? '', all: (k) => seen.get(k) ?? [] };
  const user = `${m.one('user') || '?'} (uid ${m.one('uid')})`;
  workLines(i, m, user, files, put);
  agentLine(program, provider.setup, m, user, t.kind === 'ssh', put);
  if (provider.setup) loginLine(i, provider.setup, m, user, put);
  const refuses =
    m.one('uid') === '0' && i.provider === 'claude' && i.permissionMode === 'bypassPermissions' && i.agentEnv?.IS_SANDBOX !== '1';
  if (refuses) put('permissions', 'fail', 'claude refuses permissionMode bypassPermissions as root', ROOT_BYPASS_FIX);
  else put('permissions', 'ok', `runs as ${user} with permissionMode ${i.permissionMode}`);
}

const FILES_VIA = { local: 'local file system', sftp: 'SFTP', shell: 'the control shell (the server has no SFTP subsystem)' } as const;

interface Files {
  /** Why the probe could not be written; undefined if it was. */
  wrote: string | undefined;
  how: string;
}

interface Seen {
  one(key: string): string;
  all(key: string): string[];
}

const inAgentEnv = (i: MemberCheckInput, cred: string) => cred.startsWith('env:') && Boolean(i.agentEnv?.[cred.slice(4)]);

function workLines(i: MemberCheckInput, m: Seen, user: string, f: Files, put: Put): void {
  const work = m.one('work');
  if (work === 'ok') put('work folder', 'ok', `${i.workFolder} is writable by ${user}`);
  else if (work === 'readonly')
    put('work folder', 'fail', `${i.workFolder} is not writable by ${user}`, `on the member: chown ${m.one('user')} ${i.workFolder}`);
  else put('work folder', 'fail', `${i.workFolder} does not exist`, `on the member, as ${m.one('user')}: mkdir -p ${i.workFolder}`);

  if (f.wrote !== undefined && work !== 'ok')
    put('files', 'fail', `cannot write into the work folder: it ${work === 'readonly' ? 'is read-only' : 'does not exist'}`);
  else if (f.wrote !== undefined) put('files', 'fail', `cannot write a file into the work folder: ${f.wrote}`);
  else if (m.one('probe') !== 'ok') put('files', 'fail', `a file written through ${f.how} is not in the work folder`);
  else put('files', 'ok', `written through ${f.how}`);
}

function agentLine(program: string, setup: ProviderSetup | undefined, m: Seen, user: string, ssh: boolean, put: Put): void {
  const bin = m.one('bin');
  if (bin) put('agent', 'ok', `${m.one('version') || '(no version printed)'} at ${bin}`);
  else
    put(
      'agent',
      'fail',
      `${program} is not on the PATH of ${user}${ssh ? ' in a non-interactive SSH command' : ''}`,
      `${setup ? `${setup.install} on the member, or ` : ''}set the member's agentBinary to its absolute path`,
    );
}

function loginLine(i: MemberCheckInput, setup: ProviderSetup, m: Seen, user: string, put: Put): void {
  const found = [...m.all('cred'), ...setup.credentials.filter((c) => inAgentEnv(i, c))].map(
    (c) => `${credName(c)}${inAgentEnv(i, c) ? ' (agentEnv)' : ''}`,
  );
  if (found.length) put('login', 'ok', `found ${found.join(', ')}`);
  else put('login', 'warn', `no login found for ${user}: looked for ${setup.credentials.map(credName).join(', ')}`, setup.login);
}

function linkFailure(err: unknown, i: MemberCheckInput, put: Put): void {
  const message = (err as Error).message;
  if (isTransportError(err) && (err.code === 'host_key_mismatch' || err.code === 'host_key_unknown')) {
    put('connect', 'fail', `${i.where} refused: its host key is not the one expected`);
    put(
      'host key',
      'fail',
      message,
      err.code === 'host_key_unknown'
        ? "set the member's hostKeySha256 (ssh-keyscan the host, then ssh-keygen -lf), or let the worker pin keys on first use (FLEET_UNKNOWN_HOST_KEY=pin)"
        : undefined,
    );
  } else if (isTransportError(err) && err.code === 'auth') {
    put('connect', 'fail', message);
  } else {
    put('connect', 'fail', message, 'check that the host and port are right and that sshd runs and is reachable from the worker');
  }
}

async function hostKeyLine(
  k: NonNullable<MemberCheckInput['hostKey']>,
  put: (c: CheckName, s: CheckLine['status'], d: string, f?: string) => void,
) {
  if (k.before) return put('host key', 'ok', `matches the pinned ${k.before}`);
  const now = await k.after().catch(() => undefined);
  if (now)
    return put(
      'host key',
      'warn',
      `was not pinned; pinned on first use: ${now}`,
      'compare it with `ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` on the server',
    );
  put('host key', 'warn', 'not pinned', "set the member's hostKeySha256");
}

/** `key=value` lines; a key may repeat. */
function parseKeyValues(output: string): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (const line of output.split('\n')) {
    const eq = line.indexOf('=');
    if (eq <= 0) continue;
    const k = line.slice(0, eq);
    m.set(k, [...(m.get(k) ?? []), line.slice(eq + 1).trim()]);
  }
  return m;
}

const credName = (c: string) => (c.startsWith('file:') ? `~/${c.slice(5)}` : `$${c.replace(/^env:/, '')}`);

const ordered = (lines: Map<CheckName, CheckLine>) => CHECK_NAMES.flatMap((c) => lines.get(c) ?? []);
