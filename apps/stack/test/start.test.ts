import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '@fleet/testkit';
import { describe, expect, it } from 'vitest';
import { up } from '../src/up';

describe('one-command start', () => {
  it('starts a private AOF redis when REDIS_URL is unreachable, stores a token, registers a local member; a restart loses nothing', async () => {
    const home = tempDir('fleet-home-');
    const saved = { REDIS_URL: process.env.REDIS_URL, FLEET_API_TOKEN: process.env.FLEET_API_TOKEN, PORT: process.env.PORT };
    process.env.REDIS_URL = 'redis://127.0.0.1:1';
    delete process.env.FLEET_API_TOKEN;
    try {
      const a = await up({ home: home.path, port: 0, quiet: true });
      const tokenFile = join(home.path, 'api-token');
      expect(readFileSync(tokenFile, 'utf8').trim()).toBe(a.token);
      expect(statSync(tokenFile).mode & 0o777).toBe(0o600);
      const h = { authorization: `Bearer ${a.token}` };
      const members = (await (await fetch(`${a.url}/v1/members`, { headers: h })).json()) as {
        members: Array<{ id: string; name: string }>;
      };
      const local = members.members.find((m) => m.name === 'local');
      expect(local).toBeDefined();
      const job = (await (
        await fetch(`${a.url}/v1/members/${local?.id}/prompts`, {
          method: 'POST',
          headers: { ...h, 'content-type': 'application/json' },
          body: JSON.stringify({ prompt: 'echo persisted' }),
        })
      ).json()) as { jobId: string };
      for (let i = 0; i < 200; i++) {
        const j = (await (await fetch(`${a.url}/v1/jobs/${job.jobId}`, { headers: h })).json()) as { state: string };
        if (j.state === 'completed') break;
        await new Promise((r) => setTimeout(r, 50));
      }
      await a.stop();
      expect(existsSync(join(home.path, 'redis'))).toBe(true);

      const b = await up({ home: home.path, port: 0, quiet: true });
      expect(b.token).toBe(a.token);
      const again = (await (await fetch(`${b.url}/v1/members`, { headers: h })).json()) as { members: Array<{ id: string; name: string }> };
      expect(again.members.filter((m) => m.name === 'local').map((m) => m.id)).toEqual([local?.id]);
      const j = (await (await fetch(`${b.url}/v1/jobs/${job.jobId}`, { headers: h })).json()) as { state: string; result: string };
      expect(j).toMatchObject({ state: 'completed', result: 'persisted' });
      await b.stop();
    } finally {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
      home.remove();
    }
  });
});
