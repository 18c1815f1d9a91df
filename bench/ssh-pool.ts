import { SshTransport } from '@fleet/exec';
import { startSshd } from '@fleet/testkit';
import { Client } from 'ssh2';
import { type BenchRow, QUICK, percentile, timeEach } from './lib';

/** Bench 5: pooled control shell on one connection vs a new SSH connection per command. */
export async function benchSshPool(): Promise<BenchRow[]> {
  const n = QUICK ? 10 : 100;
  const sshd = await startSshd();
  try {
    const pooled = new SshTransport({
      host: sshd.host,
      port: sshd.port,
      username: sshd.username,
      privateKey: sshd.privateKey,
      hostKeySha256: sshd.hostKeySha256,
    });
    await pooled.exec('true'); // connection + control shell opened once, as in a running worker
    const ours = await timeEach(n, async (i) => {
      const r = await pooled.exec(`echo ${i}`);
      if (r.output !== `${i}\n`) throw new Error('bad output');
    });
    await pooled.close();
    const fresh = await timeEach(n, async (i) => {
      await new Promise<void>((resolve, reject) => {
        const c = new Client();
        c.on('ready', () =>
          c.exec(`echo ${i}`, (err, ch) => {
            if (err) return reject(err);
            ch.resume();
            ch.on('close', () => {
              c.end();
              resolve();
            });
          }),
        );
        c.on('error', reject);
        c.connect({ host: sshd.host, port: sshd.port, username: sshd.username, privateKey: sshd.privateKey, hostVerifier: () => true });
      });
    });
    const sum = (a: number[]) => a.reduce((x, y) => x + y, 0);
    return [
      {
        name: `SSH: ${n} commands, pooled control shell vs new connection each`,
        baseline: 'new connection per command',
        baselineValue: sum(fresh) / n,
        ours: 'pooled',
        oursValue: sum(ours) / n,
        unit: 'ms/command',
        ratio: sum(fresh) / sum(ours),
        better: 'higher',
        target: '≥ 10×',
        notes: `p50 pooled ${percentile(ours, 50).toFixed(2)} ms, p50 fresh ${percentile(fresh, 50).toFixed(1)} ms`,
      },
    ];
  } finally {
    await sshd.stop();
  }
}
