import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { freePort } from './ports';
import { descendants, run, stopChild } from './procs';
import { tempDir } from './tmp';

export interface PrivateSshd {
  host: string;
  port: number;
  username: string;
  /** Client private key (OpenSSH format) authorised for `username`. */
  privateKey: string;
  /** The host key fingerprint as OpenSSH prints it (SHA256:...). */
  hostKeySha256: string;
  dir: string;
  pid: number;
  /** Drops every client connection by killing the per-connection sshd processes (only those). */
  dropConnections(): number;
  /** Per-connection sshd processes alive now. */
  connectionCount(): number;
  /** With `loginDelayS`: turn the slow login on or off for the sessions that start from now on. */
  setLoginDelay(on: boolean): void;
  /** With `spawnGate`: hold every `setsid` from now on, or let the held ones (and later ones) go. */
  holdSpawns(on: boolean): void;
  /** With `spawnGate`: how many held `setsid`s have been let go so far. */
  spawnsLetGo(): number;
  /** Restart with a different host key (to test pinning). */
  rotateHostKey(): Promise<string>;
  stop(): Promise<void>;
}

const SSHD = '/usr/sbin/sshd';

/** How startSshd starts its private sshd. */
export type SshdOptions = {
  maxSessions?: number;
  /** Connections allowed at once before they authenticated (sshd's MaxStartups); 200 unless set. */
  maxStartups?: number;
  listenAddress?: string;
  netns?: string;
  /**
   * Every session's shell first sleeps this long, like a login shell whose rc files are slow
   * (pyenv, nvm, conda): bash sources $BASH_ENV, which sshd sets for each session.
   */
  loginDelayS?: number;
  /**
   * `setsid` (which starts every run's session) waits while holdSpawns(true): a spawn that lands
   * late, however long the start waited for it. Not held at start.
   */
  spawnGate?: boolean;
  /** false: no SFTP subsystem (hardened servers, minimal images). */
  sftp?: boolean;
  /**
   * Sessions get a HOME of their own whose rc files are empty: a member whose login shell does
   * nothing (most servers' does little), instead of this machine's root with its own rc files.
   */
  plainHome?: boolean;
};

/**
 * A private OpenSSH sshd on a free 127.0.0.1 port with generated host and client keys. Tests run as
 * root and log in as root (the login shell is bash; scripts we send run under /bin/sh = dash).
 */
export async function startSshd(opts: SshdOptions = {}): Promise<PrivateSshd> {
  const listen = opts.listenAddress ?? '127.0.0.1';
  const dir = tempDir('fleet-sshd-');
  const d = dir.path;
  mkdirSync('/run/sshd', { recursive: true });
  const username = process.env.USER && process.env.USER !== '' ? process.env.USER : 'root';
  await keygen(join(d, 'host_ed25519'));
  await keygen(join(d, 'client_ed25519'));
  writeFileSync(join(d, 'authorized_keys'), readFileSync(join(d, 'client_ed25519.pub')), { mode: 0o600 });
  const port = await freePort();
  const cfg = join(d, 'sshd_config');
  // Unset first: the shells the rc files start (pyenv's, for one) must not sleep again. The delay
  // applies while the flag file exists (setLoginDelay).
  const delayFlag = join(d, 'login-delay');
  const spawnFlag = join(d, 'spawn-hold');
  const letGo = join(d, 'spawns-let-go');
  const rc: string[] = ['unset BASH_ENV'];
  if (opts.loginDelayS) {
    rc.push(`if [ -e '${delayFlag}' ]; then sleep ${Number(opts.loginDelayS)}; fi`);
    writeFileSync(delayFlag, '');
  }
  if (opts.spawnGate) {
    // A `setsid` ahead of the real one on the sessions' PATH.
    mkdirSync(join(d, 'bin'));
    const setsid = (await run('sh', ['-c', 'command -v setsid'])).out.trim();
    writeFileSync(
      join(d, 'bin', 'setsid'),
      `#!/bin/sh\nif [ -e '${spawnFlag}' ]; then\n  while [ -e '${spawnFlag}' ]; do sleep 0.05; done\n  echo >> '${letGo}'\nfi\nexec ${setsid} "$@"\n`,
      { mode: 0o755 },
    );
    rc.push(`PATH='${join(d, 'bin')}':$PATH; export PATH`);
  }
  const slowRc = opts.loginDelayS || opts.spawnGate;
  if (slowRc) writeFileSync(join(d, 'slow-rc.sh'), `${rc.join('\n')}\n`);
  const env = slowRc ? [`BASH_ENV=${join(d, 'slow-rc.sh')}`] : [];
  if (opts.plainHome) {
    mkdirSync(join(d, 'home'), { mode: 0o700 });
    for (const f of ['.bashrc', '.profile']) writeFileSync(join(d, 'home', f), '');
    env.push(`HOME=${join(d, 'home')}`);
  }
  const writeCfg = (hostKey: string) =>
    writeFileSync(
      cfg,
      [
        `Port ${port}`,
        `ListenAddress ${listen}`,
        `HostKey ${hostKey}`,
        `AuthorizedKeysFile ${join(d, 'authorized_keys')}`,
        'PasswordAuthentication no',
        'KbdInteractiveAuthentication no',
        'PubkeyAuthentication yes',
        'PermitRootLogin prohibit-password',
        'StrictModes no',
        'UsePAM no',
        `PidFile ${join(d, 'sshd.pid')}`,
        `MaxSessions ${opts.maxSessions ?? 64}`,
        `MaxStartups ${opts.maxStartups ?? 200}`,
        'LogLevel ERROR',
        ...(opts.sftp === false ? [] : ['Subsystem sftp internal-sftp']),
        'ClientAliveInterval 0',
        ...(env.length > 0 ? [`SetEnv ${env.join(' ')}`] : []),
        '',
      ].join('\n'),
    );
  writeCfg(join(d, 'host_ed25519'));
  let child: ChildProcess;
  const start = async () => {
    const argv = ['-D', '-e', '-f', cfg];
    child = opts.netns
      ? spawn('ip', ['netns', 'exec', opts.netns, SSHD, ...argv], { stdio: ['ignore', 'ignore', 'pipe'] })
      : spawn(SSHD, argv, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr?.on('data', (c) => (err += c));
    await waitBanner(listen, port, () => err);
  };
  await start();
  const fingerprint = async (key: string) => {
    const r = await run('ssh-keygen', ['-l', '-E', 'sha256', '-f', `${key}.pub`]);
    const m = /SHA256:[A-Za-z0-9+/]+/.exec(r.out);
    if (!m) throw new Error(`cannot read fingerprint: ${r.out}`);
    return m[0];
  };
  const sessionProcs = () => descendants(child.pid ?? -1).filter((p) => p.comm.startsWith('sshd'));
  const s: PrivateSshd = {
    host: listen,
    port,
    username,
    privateKey: readFileSync(join(d, 'client_ed25519'), 'utf8'),
    hostKeySha256: await fingerprint(join(d, 'host_ed25519')),
    dir: d,
    get pid() {
      return child.pid ?? -1;
    },
    setLoginDelay(on: boolean) {
      if (on) writeFileSync(delayFlag, '');
      else rmSync(delayFlag, { force: true });
    },
    holdSpawns(on: boolean) {
      if (on) writeFileSync(spawnFlag, '');
      else rmSync(spawnFlag, { force: true });
    },
    spawnsLetGo() {
      try {
        return readFileSync(letGo, 'utf8').split('\n').length - 1;
      } catch {
        return 0;
      }
    },
    dropConnections() {
      const procs = sessionProcs();
      for (const p of procs) {
        try {
          process.kill(p.pid, 'SIGKILL');
        } catch {}
      }
      return procs.length;
    },
    connectionCount: () => sessionProcs().length,
    async rotateHostKey() {
      await stopChild(child);
      await keygen(join(d, 'host2_ed25519'));
      writeCfg(join(d, 'host2_ed25519'));
      await start();
      return fingerprint(join(d, 'host2_ed25519'));
    },
    async stop() {
      s.dropConnections();
      await stopChild(child);
      dir.remove();
    },
  };
  return s;
}

async function keygen(path: string): Promise<void> {
  const r = await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path]);
  if (r.code !== 0) throw new Error(`ssh-keygen failed: ${r.out}`);
}

async function waitBanner(host: string, port: number, stderr: () => string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const sock = connect(port, host);
      sock.on('data', (b) => {
        sock.destroy();
        resolve(b.toString().startsWith('SSH-'));
      });
      sock.on('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`sshd on ${port} did not start: ${stderr()}`);
    await new Promise((r) => setTimeout(r, 30));
  }
}

/** The member fields that reach this sshd: transport, address, login and the pinned host key. */
export function sshMemberFields(s: PrivateSshd) {
  return {
    transport: 'ssh' as const,
    host: s.host,
    port: s.port,
    username: s.username,
    privateKey: s.privateKey,
    hostKeySha256: s.hostKeySha256,
  };
}
