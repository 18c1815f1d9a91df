import { existsSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stack, startStack } from './stack';

/**
 * Bull Board in a real headless Chromium (Debian's /usr/bin/chromium driven by playwright-core): log
 * in with the token, see a member queue with a completed job, save a screenshot.
 */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const OUT = fileURLToPath(new URL('../../../test-output', import.meta.url));
let s: Stack;
beforeAll(async () => {
  s = await startStack();
});
afterAll(async () => {
  await s.close();
});

describe.skipIf(!existsSync(CHROMIUM))('Bull Board (browser)', () => {
  it('asks for credentials, then shows the member queue with its completed job', async () => {
    const m = await s.fakeMember('board-member');
    const r = await s.http('POST', `/v1/members/${m.id}/prompts`, { prompt: '@lines 2' });
    await s.waitJob(String(r.json.jobId));
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    try {
      const anon = await browser.newContext();
      const denied = await anon.request.get(`${s.url}/ui`);
      expect(denied.status()).toBe(401);
      expect(denied.headers()['www-authenticate']).toMatch(/^Basic/);
      const ctx = await browser.newContext({ httpCredentials: { username: 'operator', password: s.token } });
      const page = await ctx.newPage();
      await page.goto(`${s.url}/ui/queue/member-${m.id}?status=completed`);
      await page.getByText(`member-${m.id}`).first().waitFor({ timeout: 20_000 });
      await page.getByText(String(r.json.jobId)).first().waitFor({ timeout: 20_000 });
      mkdirSync(OUT, { recursive: true });
      await page.screenshot({ path: `${OUT}/bull-board.png`, fullPage: true });
      expect(existsSync(`${OUT}/bull-board.png`)).toBe(true);
      // Read-only by default: no retry/clean buttons.
      expect(await page.getByRole('button', { name: /clean/i }).count()).toBe(0);
    } finally {
      await browser.close();
    }
  });
});
