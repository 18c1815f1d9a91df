import { Client } from 'ssh2';

/**
 * The baseline of the SSH fleet benches: a new ssh2 connection that runs one command and ends. Calls
 * `onFirstByte` when the command's first output arrives (its shell started); resolves when it exited.
 */
export function rawExec(
  sshd: { host: string; port: number; username: string; privateKey: string },
  command: string,
  onFirstByte?: () => void,
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const c = new Client();
    c.on('error', reject);
    c.on('ready', () =>
      c.exec(command, (err, ch) => {
        if (err) return reject(err);
        ch.once('data', () => onFirstByte?.());
        ch.resume();
        ch.stderr.resume();
        ch.on('close', () => {
          c.end();
          resolve();
        });
      }),
    );
    c.connect({ host: sshd.host, port: sshd.port, username: sshd.username, privateKey: sshd.privateKey, readyTimeout: 60_000 });
  });
}
