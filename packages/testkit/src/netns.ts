import { run } from './procs';

/**
 * A test host in a network namespace of our own, linked to this machine by a veth pair:
 * host side 10.231.<n>.1, namespace side 10.231.<n>.2. Only addresses inside namespaces we create
 * are ever used. A partition takes the *namespace-side* link down: the host keeps its (now
 * "linkdown") route, so packets are dropped on the veth and an open TCP connection hangs — it is
 * not reset, and nothing ever falls back to the default route. A blackhole route over 10.231.0.0/16
 * is a second guard against that.
 */
export interface NetnsHost {
  ns: string;
  hostIp: string;
  ip: string;
  partition(): Promise<void>;
  heal(): Promise<void>;
  destroy(): Promise<void>;
}

async function ip(...args: string[]): Promise<void> {
  const r = await run('ip', args);
  if (r.code !== 0) throw new Error(`ip ${args.join(' ')}: ${r.out.trim()}`);
}

let guardUsers = 0;

export async function createNetnsHost(n: number, tag: string): Promise<NetnsHost> {
  if (n < 1 || n > 250) throw new Error('netns host index must be 1..250');
  const ns = `fleet-${tag}-${n}`;
  const vh = `vh${tag}${n}`.slice(0, 15);
  const vn = `vn${tag}${n}`.slice(0, 15);
  const hostIp = `10.231.${n}.1`;
  const nsIp = `10.231.${n}.2`;
  if (guardUsers++ === 0) await ip('route', 'replace', 'blackhole', '10.231.0.0/16');
  await ip('netns', 'add', ns);
  await ip('link', 'add', vh, 'type', 'veth', 'peer', 'name', vn);
  await ip('link', 'set', vn, 'netns', ns);
  await ip('addr', 'add', `${hostIp}/30`, 'dev', vh);
  await ip('link', 'set', vh, 'up');
  await ip('netns', 'exec', ns, 'ip', 'addr', 'add', `${nsIp}/30`, 'dev', vn);
  await ip('netns', 'exec', ns, 'ip', 'link', 'set', vn, 'up');
  await ip('netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up');
  return {
    ns,
    hostIp,
    ip: nsIp,
    partition: () => ip('netns', 'exec', ns, 'ip', 'link', 'set', vn, 'down'),
    heal: () => ip('netns', 'exec', ns, 'ip', 'link', 'set', vn, 'up'),
    async destroy() {
      await run('ip', ['link', 'del', vh]);
      await run('ip', ['netns', 'del', ns]);
      // Drop the guard only when no namespace of ours (from any process) is left.
      if (--guardUsers === 0 && !/fleet-/.test((await run('ip', ['netns', 'list'])).out)) {
        await run('ip', ['route', 'del', 'blackhole', '10.231.0.0/16']);
      }
    },
  };
}
