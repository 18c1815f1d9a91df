import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { waitFor } from '@fleet/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Stack, startStack } from './stack';

let s: Stack;
beforeAll(async () => {
  s = await startStack();
});
afterAll(async () => {
  await s.close();
});

async function connect(token: string): Promise<Client> {
  const client = new Client({ name: 'fleet-test', version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL(`${s.url}/mcp`), {
    requestInit: { headers: { authorization: `Bearer ${token}` } },
  });
  await client.connect(transport);
  return client;
}

const parse = (r: unknown) => JSON.parse((r as { content: Array<{ text: string }> }).content[0]?.text ?? '{}') as Record<string, unknown>;

describe('MCP endpoint (official SDK client, streamable HTTP)', () => {
  it('lists the tools and runs execute_prompt → result, fleet_status, list_members, member_detail, member_check, stop_prompt', async () => {
    const m = await s.fakeMember('mcp-member');
    const client = await connect(s.token);
    const tools = (await client.listTools()).tools.map((t) => t.name).sort();
    expect(tools).toEqual(['execute_prompt', 'fleet_status', 'list_members', 'member_check', 'member_detail', 'stop_prompt']);
    // The key's rules are in the advertised schema, not only checked at enqueue.
    const exec = (await client.listTools()).tools.find((t) => t.name === 'execute_prompt');
    expect(exec?.inputSchema.properties?.idempotencyKey).toMatchObject({ type: 'string', minLength: 1, maxLength: 200 });

    const done = parse(
      await client.callTool({
        name: 'execute_prompt',
        arguments: { member: 'mcp-member', prompt: '@lines 2', wait: true, waitTimeoutS: 60 },
      }),
    );
    expect(done).toMatchObject({ state: 'completed', result: 'done: 2 lines', memberId: m.id });

    const call = { name: 'execute_prompt', arguments: { member: m.id, prompt: '@sleep 60', idempotencyKey: 'mcp-call-1' } };
    const queued = parse(await client.callTool(call));
    expect(queued.jobId).toMatch(/^m[0-9a-f]{12}\./);
    expect(queued.created).toBe(true);
    // The same call again (its answer lost): the same job, not a second agent.
    expect(parse(await client.callTool(call))).toMatchObject({ jobId: queued.jobId, created: false });
    const clash = await client.callTool({ name: 'execute_prompt', arguments: { ...call.arguments, prompt: '@lines 1' } });
    expect(clash.isError).toBe(true);
    const badKey = await client.callTool({ name: 'execute_prompt', arguments: { ...call.arguments, idempotencyKey: 'has a space' } });
    expect(badKey.isError).toBe(true);
    expect(JSON.stringify(badKey.content)).toContain('idempotency');
    await waitFor(() => m.state.live().length === 1, { what: 'agent' });
    const status = parse(await client.callTool({ name: 'fleet_status', arguments: {} }));
    expect(status.members).toEqual(
      expect.arrayContaining([expect.objectContaining({ id: m.id, status: 'busy', activeJob: queued.jobId })]),
    );
    const detail = parse(await client.callTool({ name: 'member_detail', arguments: { member: 'mcp-member' } }));
    expect(detail).toMatchObject({ id: m.id, run: { jobId: queued.jobId } });
    const members = parse(await client.callTool({ name: 'list_members', arguments: {} }));
    expect(JSON.stringify(members)).toContain(m.id);
    const stop = parse(await client.callTool({ name: 'stop_prompt', arguments: { jobId: queued.jobId } }));
    expect(stop).toMatchObject({ cancel: 'signalled' });
    expect(await s.waitJob(String(queued.jobId))).toMatchObject({ state: 'failed', error: { category: 'cancelled' } });
    await waitFor(() => m.state.live().length === 0, { what: 'agent gone' });

    const missing = await client.callTool({ name: 'member_detail', arguments: { member: 'nope' } });
    expect(missing.isError).toBe(true);

    // The fake agent as claude, as root with the member's default bypassPermissions: the check says it will be refused.
    const check = parse(await client.callTool({ name: 'member_check', arguments: { member: 'mcp-member' } }));
    expect(check).toMatchObject({ memberId: m.id, ok: false });
    expect(check.lines).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ check: 'agent', status: 'ok' }),
        expect.objectContaining({ check: 'permissions', status: 'fail', fix: expect.stringContaining('IS_SANDBOX=1') }),
      ]),
    );
    expect((await client.callTool({ name: 'member_check', arguments: { member: 'nope' } })).isError).toBe(true);
    await client.close();
  });

  it('refuses a client without the token', async () => {
    await expect(connect('wrong-token-wrong-token')).rejects.toThrow();
  });
});
