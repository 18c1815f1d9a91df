import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config';

describe('loadConfig', () => {
  it('reads the environment it is given, not only process.env', () => {
    const c = loadConfig({ FLEET_FENCE_TTL_MS: '3000', FLEET_OUTPUT_MAX_LINES: '123', FLEET_PREFIX: 'p' });
    expect(c).toMatchObject({ fenceTtlMs: 3000, outputMaxLines: 123, prefix: 'p', bullPrefix: 'p:q', killTimeoutMs: 5_000 });
  });

  it('rejects a bad number with the variable named', () => {
    expect(() => loadConfig({ FLEET_KILL_TIMEOUT_MS: 'soon' })).toThrow(/FLEET_KILL_TIMEOUT_MS must be a non-negative number/);
  });
});
