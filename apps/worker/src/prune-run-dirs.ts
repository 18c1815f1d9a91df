import { pruneRunDirs as pruneMember } from '@fleet/exec';
import type { Registry } from '@fleet/registry';
import type { Logger } from 'pino';
import type { Transports } from './transports';

/**
 * The sweeper's second duty: delete finished run directories (their prompt files are sensitive)
 * once nothing changed in them for `retentionMs`. A directory a run record or a parked record names
 * is kept whatever its age: a job may still take its result from it.
 */
export async function pruneRunDirs(deps: {
  registry: Registry;
  transports: Transports;
  log: Logger;
  retentionMs: number;
}): Promise<{ members: number; removed: number }> {
  const { registry, transports, log } = deps;
  const [members, runs, parked] = await Promise.all([registry.listMembers(), registry.listRuns(), registry.listParkedRunDirs()]);
  const keep = [...parked, ...runs.map((r) => r.run.runDir)];
  let removed = 0;
  for (const member of members) {
    try {
      const t = await transports.get(member);
      const mine = keep.filter((d) => d.startsWith(member.workFolder));
      const n = await pruneMember(t, member.workFolder, deps.retentionMs, mine);
      if (n) {
        removed += n;
        log.info({ memberId: member.id, removed: n }, 'sweeper: deleted finished run directories past their retention');
      }
    } catch (err) {
      log.warn({ memberId: member.id, err: (err as Error).message }, 'sweeper: cannot prune run directories; will retry');
    }
  }
  return { members: members.length, removed };
}
