import type { Json } from './client';
import type { Paint } from './term';

/** What a finished run said about itself (from its result event), for the summary line. */
export interface RunFacts {
  turns?: number;
  durationMs?: number;
  inputTokens?: number;
  outputTokens?: number;
  costUsd?: number;
  toolCalls: number;
}

const obj = (v: unknown): Json | undefined => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : undefined);
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
const text = (v: unknown): string => (typeof v === 'string' ? v : '');

/** A tool call's input in one short line: the command, path or pattern it names, else its JSON. */
function brief(input: unknown): string {
  const i = obj(input);
  const s = i ? text(i.command) || text(i.file_path) || text(i.path) || text(i.pattern) || text(i.url) || JSON.stringify(i) : text(input);
  const line = s.replace(/\s+/g, ' ').trim();
  return line.length > 100 ? `${line.slice(0, 99)}…` : line;
}

/**
 * Turns an agent's event lines (claude and gemini stream-json, codex `exec --json`, opencode and
 * copilot `--format/--output-format json`) into what a
 * person reads: assistant text, one line per tool call, tool errors. Lines that are not JSON (a
 * shell member, plain text output) pass through as they are; other protocol events are not shown.
 */
export class Transcript {
  readonly facts: RunFacts = { toolCalls: 0 };
  private midLine = false;

  constructor(
    private readonly p: Paint,
    private readonly write: (s: string) => void,
  ) {}

  line(raw: string): void {
    const e = raw.startsWith('{') ? parse(raw) : undefined;
    if (!e || typeof e.type !== 'string') {
      this.out(`${raw}\n`);
      return;
    }
    this.handlers[e.type]?.(e);
  }

  /** One handler per event type of the CLIs' stream formats; other types are not shown. */
  private readonly handlers: Record<string, (e: Json) => void> = {
    // claude stream-json
    assistant: (e) => {
      for (const c of contentOf(e)) this.content(c);
    },
    user: (e) => {
      for (const c of contentOf(e)) if (c.type === 'tool_result' && c.is_error === true) this.toolError(c.content);
    },
    result: (e) => this.result(e),
    // gemini stream-json
    message: (e) => {
      if (e.role === 'assistant') this.out(e.delta === true ? text(e.content) : `${text(e.content)}\n`, e.delta === true);
    },
    // gemini's tool_use names the tool; opencode's carries it in `part`
    tool_use: (e) => {
      const part = obj(e.part);
      if (part) this.tool(text(part.tool), obj(part.state)?.input);
      else this.tool(text(e.tool_name), e.parameters);
    },
    tool_result: (e) => {
      if (e.status === 'error') this.toolError(obj(e.error)?.message ?? e.output);
    },
    // codex exec --json
    'item.started': (e) => {
      const item = obj(e.item);
      if (item?.type === 'command_execution') this.tool('shell', item.command);
      else if (item?.type === 'mcp_tool_call') this.tool(text(item.tool), item.arguments);
    },
    'item.completed': (e) => {
      const item = obj(e.item);
      if (item?.type === 'agent_message') this.out(`${text(item.text)}\n`);
      else if (item?.type === 'file_change') this.tool('edit', (item.changes as Json[] | undefined)?.map((c) => c.path).join(' '));
    },
    'turn.completed': (e) => this.result(e),
    'turn.failed': (e) => this.toolError(obj(e.error)?.message, 'error'),
    error: (e) => this.toolError(e.message ?? obj(obj(e.error)?.data)?.message, 'error'),
    // opencode run --format json
    text: (e) => this.out(`${text(obj(e.part)?.text)}\n`),
    step_finish: (e) => {
      const part = obj(e.part) ?? {};
      const t = obj(part.tokens) ?? {};
      this.facts.inputTokens = (this.facts.inputTokens ?? 0) + (num(t.input) ?? 0) + (num(obj(t.cache)?.read) ?? 0);
      this.facts.outputTokens = (this.facts.outputTokens ?? 0) + (num(t.output) ?? 0);
      if (num(part.cost) !== undefined) this.facts.costUsd = (this.facts.costUsd ?? 0) + (num(part.cost) ?? 0);
    },
    // copilot --output-format json (its last event, `result`, is handled with claude's)
    'assistant.message': (e) => {
      const content = text(obj(e.data)?.content);
      if (content) this.out(`${content}\n`);
    },
    'tool.execution_start': (e) => this.tool(text(obj(e.data)?.toolName), obj(e.data)?.arguments),
    'tool.execution_complete': (e) => {
      if (obj(e.data)?.success === false) this.toolError(obj(obj(e.data)?.error)?.message ?? obj(e.data)?.result);
    },
    'session.error': (e) => this.toolError(obj(e.data)?.message, 'error'),
  };

  private content(c: Json | undefined): void {
    if (c?.type === 'text') this.out(`${text(c.text)}\n`);
    else if (c?.type === 'tool_use') this.tool(text(c.name), c.input);
  }

  private tool(name: string, input: unknown): void {
    this.facts.toolCalls++;
    this.out(this.p.cyan(`→ ${name || 'tool'}${input === undefined ? '' : `  ${brief(input)}`}\n`));
  }

  private toolError(message: unknown, what = 'tool error'): void {
    const first = (typeof message === 'string' ? message : JSON.stringify(message ?? '')).split('\n')[0] ?? '';
    this.out(this.p.red(`  ✗ ${what}: ${first.slice(0, 200)}\n`));
  }

  private result(e: Json): void {
    const f = this.facts;
    const usage = obj(e.usage) ?? obj(e.stats);
    f.turns = num(e.num_turns) ?? f.turns;
    f.durationMs = num(e.duration_ms) ?? num(obj(e.stats)?.duration_ms) ?? num(usage?.sessionDurationMs) ?? f.durationMs;
    f.costUsd = num(e.total_cost_usd) ?? f.costUsd;
    if (usage) {
      f.inputTokens = (f.inputTokens ?? 0) + (num(usage.input_tokens) ?? 0);
      f.outputTokens = (f.outputTokens ?? 0) + (num(usage.output_tokens) ?? 0);
    }
  }

  private out(s: string, partial = false): void {
    if (!partial && this.midLine) this.write('\n');
    this.midLine = partial && !s.endsWith('\n');
    this.write(s);
  }

  /** A line as the agent printed it. */
  raw(s: string): void {
    this.out(s);
  }

  /** Ends a line left open by streamed text, so the summary starts on its own line. */
  end(): void {
    if (this.midLine) this.write('\n');
    this.midLine = false;
  }
}

function contentOf(e: Json): Json[] {
  const content = obj(e.message)?.content;
  return Array.isArray(content) ? content.map(obj).filter((c): c is Json => c !== undefined) : [];
}

function parse(raw: string): Json | undefined {
  try {
    return obj(JSON.parse(raw));
  } catch {
    return undefined;
  }
}

/** The run's summary: tokens, cost and duration from its result event, else from the job view. */
export function summary(job: Json, f: RunFacts): string {
  const usage = obj(job.usage);
  const inTok = f.inputTokens ?? num(usage?.inputTokens);
  const outTok = f.outputTokens ?? num(usage?.outputTokens);
  const cost = f.costUsd ?? num(job.costUsd);
  const ms = f.durationMs ?? elapsed(job);
  const parts = [count(f.turns, 'turn'), count(f.toolCalls || undefined, 'tool call')];
  if (inTok !== undefined || outTok !== undefined) parts.push(`${inTok ?? 0} in / ${outTok ?? 0} out tokens`);
  if (cost !== undefined) parts.push(`$${cost.toFixed(4)}`);
  if (ms !== undefined) parts.push(`${(ms / 1000).toFixed(1)} s`);
  return parts.filter(Boolean).join(' · ');
}

const count = (n: number | undefined, what: string): string => (n === undefined ? '' : `${n} ${what}${n === 1 ? '' : 's'}`);

function elapsed(job: Json): number | undefined {
  const started = num(job.startedAt);
  const finished = num(job.finishedAt);
  return started !== undefined && finished !== undefined ? finished - started : undefined;
}
