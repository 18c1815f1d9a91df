import type { Command } from 'commander';
import { watchJob } from '../watch';

export function logsCommand(program: Command): void {
  program
    .command('logs')
    .description("a job's output (what the live stream keeps); --follow stays until the job ends")
    .argument('<jobId>', 'the job')
    .option('-f, --follow', 'keep reading until the job ends (reconnects where it left off)')
    .option('--json', "print the agent's raw event lines (JSON Lines) instead of the transcript")
    .action(async (jobId: string, f: { follow?: boolean; json?: boolean }) => {
      await watchJob(jobId, { follow: f.follow === true, json: f.json === true });
    });
}
