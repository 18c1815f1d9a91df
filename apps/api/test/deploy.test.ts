import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

/** No Docker engine runs on the build machines: the deployment files are validated as files. */
const root = fileURLToPath(new URL('../../..', import.meta.url));
type Service = {
  image?: string;
  build?: string;
  command?: string[];
  environment?: Record<string, string>;
  ports?: string[];
  healthcheck?: { test: string[] };
  depends_on?: Record<string, { condition: string }>;
  volumes?: string[];
};

describe('docker-compose.yml and Dockerfile', () => {
  const compose = parse(readFileSync(`${root}/docker-compose.yml`, 'utf8')) as {
    services: Record<string, Service>;
    volumes: Record<string, unknown>;
  };
  const s = compose.services;

  it('has redis with an AOF volume, the API and a worker, each with a healthcheck', () => {
    expect(Object.keys(s).sort()).toEqual(['api', 'redis', 'worker']);
    expect(s.redis?.command).toEqual(expect.arrayContaining(['--appendonly', 'yes']));
    expect(s.redis?.volumes).toEqual(['redis-data:/data']);
    expect(compose.volumes).toHaveProperty('redis-data');
    for (const name of ['redis', 'api', 'worker']) expect(s[name]?.healthcheck?.test.length, name).toBeGreaterThan(1);
  });

  it('wires the apps to redis and to the right entry points; the API port is loopback-only', () => {
    for (const name of ['api', 'worker']) {
      expect(s[name]?.environment?.REDIS_URL).toBe('redis://redis:6379');
      expect(s[name]?.depends_on?.redis?.condition).toBe('service_healthy');
      expect(s[name]?.build).toBe('.');
    }
    expect(s.api?.command?.join(' ')).toContain('apps/api/src/main.ts');
    expect(s.worker?.command?.join(' ')).toContain('apps/worker/src/main.ts');
    expect(s.api?.ports).toEqual(['127.0.0.1:8080:8080']);
    expect(s.api?.environment?.FLEET_API_TOKEN).toMatch(/^\$\{FLEET_API_TOKEN:\?/);
    expect(s.api?.environment?.PORT).toBe('8080');
  });

  it('every entry point and env var it names exists in the code', () => {
    for (const f of ['apps/api/src/main.ts', 'apps/worker/src/main.ts']) expect(() => readFileSync(`${root}/${f}`)).not.toThrow();
    const code = readFileSync(`${root}/apps/api/src/config.ts`, 'utf8') + readFileSync(`${root}/apps/worker/src/config.ts`, 'utf8');
    for (const svc of ['api', 'worker']) for (const k of Object.keys(s[svc]?.environment ?? {})) expect(code, k).toContain(k);
  });

  it('the Dockerfile builds from Node 20 with the ssh client, runs unprivileged and exposes the API port', () => {
    const d = readFileSync(`${root}/Dockerfile`, 'utf8');
    expect(d).toMatch(/^FROM node:20/m);
    expect(d).toMatch(/openssh-client/);
    expect(d).toMatch(/^USER node$/m);
    expect(d).toMatch(/^EXPOSE 8080$/m);
    expect(d).toMatch(/npm ci/);
  });

  it('the image builds nothing at run time: no compiler, no local build output', () => {
    const d = readFileSync(`${root}/Dockerfile`, 'utf8');
    expect(d).not.toMatch(/\b(gcc|cc|clang|make)\b/);
    const ignore = readFileSync(`${root}/.dockerignore`, 'utf8').split('\n');
    for (const p of ['**/node_modules', '.fleet']) expect(ignore).toContain(p);
  });
});
