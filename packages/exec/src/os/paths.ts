import { ENV_NAME, ID_TOKEN as RUN_ID } from '@fleet/core';

/** Validation of the names we build paths from; a runId becomes a directory name on the member. */

export function assertRunId(runId: string): void {
  if (!RUN_ID.test(runId) || runId.includes('..')) throw new Error(`invalid run id: ${JSON.stringify(runId)}`);
}

export function assertEnvName(name: string): void {
  if (!ENV_NAME.test(name)) throw new Error(`invalid environment variable name: ${JSON.stringify(name)}`);
}

export function assertNonce(nonce: string): void {
  if (!/^[a-f0-9]{16,64}$/.test(nonce)) throw new Error('invalid nonce');
}

/** A spawn helper request's id and cgroup. */
export function assertHelperRequest(id: number, cgroup: string | undefined): void {
  if (!Number.isSafeInteger(id) || id < 0) throw new Error('invalid request id');
  if (cgroup !== undefined && !cgroup.startsWith('/')) throw new Error('cgroup must be an absolute path');
}
