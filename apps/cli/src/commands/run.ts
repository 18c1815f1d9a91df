import { readFileSync } from 'node:fs';
import { type Command, Option } from 'commander';
import { CliError, type Json, resolveMember, submit } from '../client';
import { PERMISSION_MODES } from '@fleet/core';
import { fieldsFrom, positiveInt, positiveNumber } from '../options';
import { cancelJob, exitCodeOf, watchJob } from '../watch';

interface RunFlags {
  resume?: boolean;
  model?: string;
  maxTurns?: number;
  permissionMode?: string;
  maxBudgetUsd?: number;
  fallbackModel?: string;
  allowedTools?: string;
  timeout?: number;
  stream: boolean;
  json?: boolean;
}

export function runCommand(program: Command, done: (code: number) => void): void {
  program
    .command('run')
    .description("send a prompt to a member and show the agent's work; exits with the agent's exit code")
    .argument('<member>', 'member id or name')
    .argument('<prompt>', 'the prompt ("-" reads it from stdin)')
    .option('--resume', "resume the member's last session")
    .option('--model <model>', 'model for this job')
    .option('--max-turns <n>', 'stop after n turns', positiveInt)
    .addOption(new Option('--permission-mode <mode>', 'permission mode for this job').choices(PERMISSION_MODES))
    .option('--max-budget-usd <usd>', 'stop when the run has cost this much', positiveNumber)
    .option('--fallback-model <model>', 'model to use when the first one is overloaded')
    .option('--allowed-tools <list>', 'comma-separated tools the agent may use')
    .option('--timeout <s>', 'total time limit in seconds', positiveInt)
    .option('--no-stream', 'print only the result at the end')
    .option('--json', "print the agent's raw event lines (JSON Lines) instead of the transcript")
    .action(async (ref: string, prompt: string, f: RunFlags) => {
      const id = await resolveMember(ref);
      const body: Json = {
        prompt: prompt === '-' ? readFileSync(0, 'utf8') : prompt,
        ...fieldsFrom(f, {
          resume: 'resume',
          model: 'model',
          maxTurns: 'maxTurns',
          permissionMode: 'permissionMode',
          maxBudgetUsd: 'maxBudgetUsd',
          fallbackModel: 'fallbackModel',
          timeout: 'totalTimeoutS',
        }),
      };
      if (body.prompt === '') throw new CliError('the prompt is empty');
      if (f.allowedTools) body.allowedTools = f.allowedTools.split(',').map((t) => t.trim());
      const job = await submit(id, body, (why, n) => process.stderr.write(`${why}; sending again (${n})\n`));
      const jobId = String(job.jobId);
      process.stderr.write(`job ${jobId}\n`);
      const final = await watchJob(jobId, {
        follow: true,
        json: f.json === true,
        quiet: !f.stream,
        onInterrupt: () => cancelJob(jobId),
      });
      if (!f.stream && typeof final.result === 'string') process.stdout.write(`${final.result}\n`);
      done(exitCodeOf(final));
    });
}
