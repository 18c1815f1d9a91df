import { Command, CommanderError } from 'commander';
import { CliError } from './client';
import { cancelCommand, statusCommand, upCommand } from './commands/fleet';
import { jobsCommand } from './commands/jobs';
import { logsCommand } from './commands/logs';
import { membersCommand } from './commands/members';
import { runCommand } from './commands/run';

/** `fleet` — the command line over the REST API (FLEET_URL, FLEET_API_TOKEN or ./.fleet/api-token). */
let code = 0;
const program = new Command('fleet')
  .description('Run LLM coding agents on a fleet of machines, one process per member.')
  .addHelpText(
    'after',
    '\nEnvironment: FLEET_URL (default http://127.0.0.1:8080), FLEET_API_TOKEN (default: ./.fleet/api-token), NO_COLOR.',
  )
  .showSuggestionAfterError()
  .exitOverride();
upCommand(program);
membersCommand(program, (c) => {
  code = c;
});
runCommand(program, (c) => {
  code = c;
});
jobsCommand(program);
logsCommand(program);
statusCommand(program);
cancelCommand(program);

const argv = process.argv.slice(2);
try {
  if (argv.length === 0) program.outputHelp();
  else await program.parseAsync(argv, { from: 'user' });
  process.exit(code);
} catch (err) {
  if (err instanceof CommanderError) {
    // Commander has printed the usage error (with a suggestion for a typo) or the help.
    process.exit(err.code === 'commander.helpDisplayed' || err.code === 'commander.version' ? 0 : 2);
  }
  if (err instanceof CliError) {
    process.stderr.write(`fleet: ${err.message}\n`);
    process.exit(2);
  }
  const e = err as Error;
  process.stderr.write(`fleet: internal error: ${e.message}${process.env.FLEET_DEBUG ? `\n${e.stack}` : ' (FLEET_DEBUG=1 shows where)'}\n`);
  process.exit(1);
}
