export * from './identity';
export { LineSplitter, type Line } from './lines';
export { shQuote, psQuote, winQuoteArg, UnsafeValueError } from './quote';
export * from './os/index';
export type { StartRunOptions, ReattachOptions, KillOptions, CheckMemberOptions } from './os/types';
export * from './transport/types';
export { LocalTransport } from './transport/local';
export { SshTransport, hostKeyFingerprint, type SshOptions } from './transport/ssh';
export { SshPool } from './transport/pool';
export { withBackoff, sleep, type BackoffOptions } from './transport/backoff';
export { WrapperReader, type WrapperEvent } from './run/reader';
export { parsePidFile } from './os/markers';
export {
  claimRun,
  killRun,
  killUnconfirmed,
  probeRun,
  readRunPidFile,
  pruneRunDirs,
  triageRuns,
  needsKill,
  type KillReport,
} from './run/control';
export { RunFollower, type RunHooks, type RunOutcome, type FollowOptions } from './run/follow';
export type { RunHost, RunStream, RunStart, PrepareRefusal } from './run/host';
export { ShellHost, controlExec, newNonce } from './run/shell-host';
export { runAgent, attachRun, type RunAgentOptions, type AttachRunOptions } from './run/run-agent';
export * from './providers/index';
export { checkMember, type MemberCheckInput } from './member-check';
