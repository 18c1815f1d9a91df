import type { ProviderName } from './names';

/**
 * How far an agent may act without asking, in Claude Code's vocabulary (`--permission-mode`); each
 * provider maps the modes it has to its own flags and refuses the rest.
 */
export const PERMISSION_MODES = ['default', 'acceptEdits', 'auto', 'bypassPermissions', 'dontAsk', 'plan'] as const;
export type PermissionMode = (typeof PERMISSION_MODES)[number];

/**
 * A tool permission rule as the CLIs take it: `Edit`, `Bash(git *)`, `mcp__server__tool`. No comma:
 * the rules travel as one comma-separated argument.
 */
export const TOOL_RULE = /^[A-Za-z][A-Za-z0-9_.:*-]{0,127}(?:\([^\0\r\n(),]{0,256}\))?$/;

/** What each provider's CLI offers of the per-run options; anything else is refused with a clear error. */
export interface ProviderOptions {
  permissionModes: readonly PermissionMode[];
  maxBudgetUsd: boolean;
  fallbackModel: boolean;
  allowedTools: boolean;
}

export const PROVIDER_OPTIONS: Readonly<Record<ProviderName, ProviderOptions>> = {
  claude: { permissionModes: PERMISSION_MODES, maxBudgetUsd: true, fallbackModel: true, allowedTools: true },
  gemini: {
    permissionModes: ['default', 'acceptEdits', 'bypassPermissions', 'plan'],
    maxBudgetUsd: false,
    fallbackModel: false,
    allowedTools: false,
  },
  codex: {
    permissionModes: ['default', 'acceptEdits', 'bypassPermissions', 'plan'],
    maxBudgetUsd: false,
    fallbackModel: false,
    allowedTools: false,
  },
  opencode: { permissionModes: ['default', 'bypassPermissions'], maxBudgetUsd: false, fallbackModel: false, allowedTools: false },
  copilot: {
    permissionModes: ['default', 'acceptEdits', 'bypassPermissions', 'plan'],
    maxBudgetUsd: false,
    fallbackModel: false,
    allowedTools: true,
  },
  shell: { permissionModes: PERMISSION_MODES, maxBudgetUsd: false, fallbackModel: false, allowedTools: false },
};

/** The per-run options a job or a member may set, as far as support depends on the provider. */
export interface RunOptions {
  permissionMode?: PermissionMode;
  maxBudgetUsd?: number;
  fallbackModel?: string;
  allowedTools?: readonly string[];
}

/** Why `provider` cannot run with `opts` (one sentence per option it lacks), or undefined. */
export function unsupportedOptions(provider: ProviderName, opts: RunOptions): string | undefined {
  const has = PROVIDER_OPTIONS[provider];
  const why: string[] = [];
  if (opts.permissionMode !== undefined && !has.permissionModes.includes(opts.permissionMode)) {
    why.push(`permissionMode ${opts.permissionMode} is not offered by ${provider} (it has: ${has.permissionModes.join(', ')})`);
  }
  for (const k of ['maxBudgetUsd', 'fallbackModel', 'allowedTools'] as const) {
    if (opts[k] !== undefined && !has[k]) why.push(`${k} is not offered by ${provider}`);
  }
  return why.length > 0 ? why.join('; ') : undefined;
}
