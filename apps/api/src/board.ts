import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import type { FleetJobs, Registry } from '@fleet/registry';
import type { FastifyInstance } from 'fastify';

/**
 * Bull Board at /ui with every member queue (members added later appear within seconds), behind the
 * API token (Basic auth with the token as password, or the fleet_token cookie). Read-only unless
 * FLEET_BOARD_WRITE is set. Job data shown there holds no secrets (those never enter job data).
 */
export async function mountBoard(
  app: FastifyInstance,
  deps: { registry: Registry; jobs: FleetJobs; write: boolean },
): Promise<() => Promise<void>> {
  const serverAdapter = new FastifyAdapter();
  serverAdapter.setBasePath('/ui');
  const shown = new Set<string>();
  const board = createBullBoard({ queues: [], serverAdapter, options: { uiConfig: { boardTitle: 'fleet-exec' } } });
  const names = new Map<string, string>();
  const refresh = async () => {
    const members = await deps.registry.listMembers();
    const want = new Set(members.map((m) => m.id));
    for (const m of members) {
      names.set(m.id, m.name);
      if (!shown.has(m.id)) {
        board.addQueue(
          new BullMQAdapter(deps.jobs.queue(m.id), {
            readOnlyMode: !deps.write,
            allowRetries: deps.write,
            description: `${m.name} (${m.transport}, ${m.provider})`,
          }),
        );
        shown.add(m.id);
      }
    }
    for (const id of shown) {
      if (!want.has(id)) {
        board.removeQueue(`member-${id}`);
        shown.delete(id);
      }
    }
  };
  await refresh();
  await app.register(serverAdapter.registerPlugin(), { prefix: '/ui' });
  return refresh;
}
