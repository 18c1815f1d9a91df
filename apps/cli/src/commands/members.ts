import { readFileSync } from 'node:fs';
import { MEMBER_OS, PERMISSION_MODES, PROVIDER_NAMES } from '@fleet/core';
import { type Command, Option } from 'commander';
import { CliError, type Json, api, listMembers, resolveMember } from '../client';
import { printCheck } from './member-check';
import { fieldsFrom, positiveInt } from '../options';

interface AddFlags {
  name: string;
  transport: string;
  host?: string;
  port?: number;
  user?: string;
  key?: string;
  keyPath?: string;
  passwordEnv?: string;
  hostKey?: string;
  workFolder: string;
  provider: string;
  model?: string;
  permissionMode?: string;
  os?: string;
  check: boolean;
}

export function membersCommand(program: Command, setCode: (code: number) => void): void {
  const members = program.command('members').description('add, list and remove the machines that run agents');

  members
    .command('list')
    .description('list members')
    .option('--json', 'print the members as JSON')
    .action(async (f: { json?: boolean }) => {
      const list = await listMembers();
      if (f.json) return void process.stdout.write(`${JSON.stringify(list, null, 2)}\n`);
      for (const m of list) {
        const where = m.transport === 'ssh' ? `${m.username}@${m.host}:${m.port}` : '';
        process.stdout.write(
          `${m.id}  ${String(m.name).padEnd(16)} ${String(m.transport).padEnd(5)} ${String(m.provider).padEnd(7)} ${where} ${m.workFolder}\n`,
        );
      }
    });

  members
    .command('add')
    .description('add a member (prints its id)')
    .requiredOption('--name <name>', 'a unique name')
    .addOption(new Option('--transport <transport>', 'how to reach it').choices(['ssh', 'local']).default('ssh'))
    .option('--host <host>', 'SSH host')
    .option('--port <port>', 'SSH port', positiveInt)
    .option('--user <user>', 'SSH user')
    .option('--key <file>', 'private key file, sent to the API and kept in Redis')
    .option('--key-path <path>', "private key path on the worker's machine (the key stays there)")
    .option('--password-env <var>', 'environment variable that holds the SSH password')
    .option('--host-key <sha256>', "the server's host key fingerprint (SHA256:…)")
    .requiredOption('--work-folder <dir>', 'folder the agent works in')
    .addOption(new Option('--provider <provider>', 'agent CLI').choices(PROVIDER_NAMES).default('claude'))
    .option('--model <model>', 'default model')
    .addOption(new Option('--permission-mode <mode>', 'default permission mode').choices(PERMISSION_MODES))
    .addOption(new Option('--os <os>', "the member's OS").choices(MEMBER_OS))
    .option('--no-check', 'do not check the member after adding it (see `fleet members check`)')
    .action(async (f: AddFlags) => {
      const body: Json = fieldsFrom(f, {
        name: 'name',
        transport: 'transport',
        workFolder: 'workFolder',
        provider: 'provider',
        host: 'host',
        port: 'port',
        user: 'username',
        keyPath: 'privateKeyPath',
        hostKey: 'hostKeySha256',
        model: 'model',
        permissionMode: 'permissionMode',
        os: 'os',
      });
      if (f.key) body.privateKey = readKey(f.key);
      if (f.passwordEnv) body.password = fromEnv(f.passwordEnv);
      const json = await api('POST', '/v1/members', body);
      process.stdout.write(`${json.id}\n`);
      if (!f.check) return;
      // The id is the output a script reads; the check goes to stderr.
      try {
        if (!(await printCheck(String(json.id), process.stderr)).ok) {
          process.stderr.write(
            `added ${String(json.id)}, but it cannot run agents yet: fix the above, then \`fleet members check ${f.name}\`\n`,
          );
          setCode(1);
        }
      } catch (err) {
        if (!(err instanceof CliError)) throw err;
        process.stderr.write(`added ${String(json.id)}; not checked: ${err.message}\n`);
      }
    });

  members
    .command('check')
    .description('check that a member can run an agent: link, host key, files, work folder, agent, login, permissions')
    .argument('<member>', 'member id or name')
    .option('--json', 'print the report as JSON')
    .action(async (ref: string, f: { json?: boolean }) => {
      const id = await resolveMember(ref);
      if (f.json) {
        const report = await api('GET', `/v1/members/${id}/check`);
        process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
        return setCode(report.ok ? 0 : 1);
      }
      setCode((await printCheck(id, process.stdout)).ok ? 0 : 1);
    });

  members
    .command('rm')
    .description('remove a member')
    .argument('<member>', 'member id or name')
    .option('--force', 'cancel its jobs first')
    .action(async (ref: string, f: { force?: boolean }) => {
      const id = await resolveMember(ref);
      await api('DELETE', `/v1/members/${id}${f.force ? '?force=true' : ''}`);
      process.stdout.write(`removed ${id}\n`);
    });
}

function readKey(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new CliError(`--key ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

function fromEnv(name: string): string {
  const v = process.env[name];
  if (!v) throw new CliError(`--password-env ${name}: that variable is not set`);
  return v;
}
