import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type ModelServer, startModelServer } from '@fleet/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Fleet, startFleet } from './harness';

/**
 * The real copilot and opencode CLIs (pinned in tools/real-clis, which `.ci/run` installs) run whole jobs through
 * the worker. Only the model is local: a loopback OpenAI-compatible endpoint, since no account can
 * be had here. What is proven is ours: argv, prompt on stdin, PID line, output parsing, resume.
 */
const CLI_DIR = process.env.FLEET_REAL_CLI_DIR ?? join(__dirname, '../../../tools/real-clis/node_modules/.bin');
const COPILOT = join(CLI_DIR, 'copilot');
const OPENCODE = join(CLI_DIR, 'opencode');
const present = existsSync(COPILOT) && existsSync(OPENCODE);
if (!present && process.env.CI)
  throw new Error(`the real agent CLIs are not in ${CLI_DIR}: npm install --prefix tools/real-clis --no-save`);

describe.skipIf(!present)('real agent CLIs (copilot 1.0.102, opencode 1.18.33) against a loopback model', () => {
  let fleet: Fleet;
  let model: ModelServer;
  let limited: ModelServer;
  beforeAll(async () => {
    fleet = await startFleet();
    model = await startModelServer('ok');
    limited = await startModelServer(429);
  });
  afterAll(async () => {
    await fleet.close();
    await model.stop();
    await limited.stop();
  });

  const opencodeConfig = (name: string, url: string) => {
    const file = join(fleet.dir, `${name}.opencode.json`);
    const provider = {
      npm: '@ai-sdk/openai-compatible',
      name: 'local',
      options: { baseURL: url, apiKey: 'sk-local' },
      models: { 'gpt-4o': {} },
    };
    writeFileSync(file, JSON.stringify({ provider: { local: provider } }));
    return file;
  };

  it('copilot: a job completes with its answer and session id; a resumed job continues that session', async () => {
    const { member } = await fleet.addLocalMember('copilot', {
      provider: 'copilot',
      agentBinary: COPILOT,
      agentEnv: { COPILOT_PROVIDER_BASE_URL: model.url, COPILOT_MODEL: 'gpt-4o', COPILOT_AUTO_UPDATE: 'false' },
    });
    const w = await fleet.startWorker();
    const first = await fleet.waitJob((await fleet.jobs.enqueue(member.id, { prompt: `say "hi" $(id)\n` })).id ?? '', 120_000);
    expect(first.failedReason).toBeUndefined();
    expect(first.returnvalue).toMatchObject({ result: 'hi there', exitCode: 0, attempts: 1 });
    expect(first.returnvalue?.sessionId).toMatch(/^[0-9a-f]{8}-[0-9a-f-]{27}$/);
    const again = await fleet.waitJob((await fleet.jobs.enqueue(member.id, { prompt: 'again', resume: true })).id ?? '', 120_000);
    expect(again.returnvalue).toMatchObject({ result: 'hi there', sessionId: first.returnvalue?.sessionId });
    await w.stop();
  });

  it('opencode: a job completes with its answer, tokens and session id; a resumed job continues that session', async () => {
    const { member } = await fleet.addLocalMember('opencode', {
      provider: 'opencode',
      agentBinary: OPENCODE,
      model: 'local/gpt-4o',
      agentEnv: { OPENCODE_CONFIG: opencodeConfig('ok', model.url) },
    });
    const w = await fleet.startWorker();
    const first = await fleet.waitJob((await fleet.jobs.enqueue(member.id, { prompt: 'say hi' })).id ?? '', 120_000);
    expect(first.failedReason).toBeUndefined();
    expect(first.returnvalue).toMatchObject({ result: 'hi there', usage: { inputTokens: 12, outputTokens: 3 }, attempts: 1 });
    expect(first.returnvalue?.sessionId).toMatch(/^ses_\w+$/);
    const again = await fleet.waitJob((await fleet.jobs.enqueue(member.id, { prompt: 'again', resume: true })).id ?? '', 120_000);
    expect(again.returnvalue).toMatchObject({ result: 'hi there', sessionId: first.returnvalue?.sessionId });
    await w.stop();
  });

  it('opencode against a rate-limited model: overloaded, retried, then failed with the 429 in the reason', async () => {
    const { member } = await fleet.addLocalMember('opencode-429', {
      provider: 'opencode',
      agentBinary: OPENCODE,
      model: 'local/gpt-4o',
      agentEnv: { OPENCODE_CONFIG: opencodeConfig('limited', limited.url) },
    });
    const w = await fleet.startWorker();
    const job = await fleet.waitJob((await fleet.jobs.enqueue(member.id, { prompt: 'say hi', attempts: 2 })).id ?? '', 120_000);
    expect(await job.getState()).toBe('failed');
    expect(job.attemptsMade).toBe(2);
    expect(job.failedReason).toMatch(/^\[overloaded\] .*Rate limit reached.*status 429/);
    await w.stop();
  });
});
