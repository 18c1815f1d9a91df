import {
  ENV_NAME,
  MEMBER_OS,
  MODEL_NAME as MODEL,
  PERMISSION_MODES,
  type PermissionMode,
  PROVIDER_NAMES as PROVIDERS,
  PROGRAM_PATH as BINARY,
  unsupportedOptions,
} from '@fleet/core';
import { z } from 'zod';

/**
 * Member input validation. Nothing that reaches a member's shell may carry NUL or a line break; paths
 * must be absolute for the member's OS; names of things that become argv elements can't start
 * with '-'. Everything is also quoted where it is used — this is the first of two walls.
 */
const noControl = (s: string) => !/[\0\r\n]/.test(s);
const safe = (max: number) => z.string().min(1).max(max).refine(noControl, 'must not contain NUL or line breaks');

const HOST = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*|\[?[0-9A-Fa-f:.]+\]?)$/;
const USER = /^[A-Za-z_][A-Za-z0-9_.-]{0,63}$/;
const FINGERPRINT = /^SHA256:[A-Za-z0-9+/]{43}=?$/;

/** A member's fields, without defaults: a PATCH must change only what it names. */
const fields = z
  .object({
    name: safe(100),
    transport: z.enum(['ssh', 'local']),
    host: safe(255).regex(HOST, 'not a host name or IP address').optional(),
    port: z.number().int().min(1).max(65535),
    username: safe(64).regex(USER, 'not a valid user name').optional(),
    privateKey: z
      .string()
      .min(1)
      .max(32_768)
      .refine((s) => !s.includes('\0'), 'must not contain NUL')
      .optional(),
    privateKeyPath: safe(4096).optional(),
    passphrase: z.string().max(1024).optional(),
    password: z.string().min(1).max(1024).optional(),
    hostKeySha256: z.string().regex(FINGERPRINT, 'expected SHA256:<base64> as ssh-keygen -lf prints it').optional(),
    os: z.enum(MEMBER_OS),
    workFolder: safe(4096),
    provider: z.enum(PROVIDERS),
    model: z.string().regex(MODEL, 'invalid model name').optional(),
    agentBinary: z.string().regex(BINARY, 'invalid program path').optional(),
    agentEnv: z.record(z.string().regex(ENV_NAME, 'invalid variable name'), safe(4096)).optional(),
    maxTurns: z.number().int().min(1).max(10_000).optional(),
    permissionMode: z
      .enum(PERMISSION_MODES)
      .optional()
      .describe('How far the agent may act without asking (default bypassPermissions: a headless run cannot ask)'),
    skipPermissions: z.boolean().optional().describe('Deprecated: true is permissionMode bypassPermissions, false is default'),
    trustWorkspace: z.boolean(),
  })
  .strict();

/** A new member: the fields, with the defaults of those it may leave out. */
const base = fields
  .extend({
    port: fields.shape.port.default(22),
    os: fields.shape.os.default('linux'),
    trustWorkspace: fields.shape.trustWorkspace.default(false),
  })
  .strict();

function refineMember(m: Partial<z.infer<typeof base>>, ctx: z.RefinementCtx): void {
  if (m.workFolder !== undefined) {
    const abs = m.os === 'windows' ? /^[A-Za-z]:[\\/]/.test(m.workFolder) : m.workFolder.startsWith('/');
    if (!abs) ctx.addIssue({ code: 'custom', path: ['workFolder'], message: `must be an absolute ${m.os ?? 'linux'} path` });
    if (/(^|[\\/])\.\.([\\/]|$)/.test(m.workFolder)) ctx.addIssue({ code: 'custom', path: ['workFolder'], message: 'must not contain ..' });
  }
  if (m.transport === 'ssh') {
    if (!m.host) ctx.addIssue({ code: 'custom', path: ['host'], message: 'required for ssh members' });
    if (!m.username) ctx.addIssue({ code: 'custom', path: ['username'], message: 'required for ssh members' });
    if (!m.privateKey && !m.privateKeyPath && !m.password) {
      ctx.addIssue({ code: 'custom', path: ['privateKey'], message: 'one of privateKey, privateKeyPath, password is required' });
    }
  }
  if (
    m.permissionMode !== undefined &&
    m.skipPermissions !== undefined &&
    m.permissionMode !== permissionModeOf({ skipPermissions: m.skipPermissions })
  ) {
    ctx.addIssue({ code: 'custom', path: ['skipPermissions'], message: 'contradicts permissionMode; send permissionMode only' });
  }
  const unsupported = m.provider && unsupportedOptions(m.provider, { permissionMode: permissionModeOf(m) });
  if (unsupported) ctx.addIssue({ code: 'custom', path: ['permissionMode'], message: unsupported });
  if (m.transport === 'local' && m.os === 'windows')
    ctx.addIssue({ code: 'custom', path: ['os'], message: 'local members run this machine’s OS (linux)' });
}

/** The permission mode a member input asks for, the deprecated boolean included. */
export function permissionModeOf(m: {
  permissionMode?: PermissionMode | undefined;
  skipPermissions?: boolean | undefined;
}): PermissionMode {
  return m.permissionMode ?? (m.skipPermissions === false ? 'default' : 'bypassPermissions');
}

export const MemberInput = base.superRefine(refineMember);
export type MemberInput = z.input<typeof MemberInput>;
export type MemberSpec = z.output<typeof MemberInput>;

/** PATCH: any subset; transport and os are fixed at creation. */
export const MemberPatch = fields.omit({ transport: true, os: true }).partial().strict();
export type MemberPatch = z.input<typeof MemberPatch>;

export const SECRET_FIELDS = ['privateKey', 'passphrase', 'password'] as const;

/** A member as stored and returned (never secrets). */
export interface Member {
  id: string;
  name: string;
  transport: 'ssh' | 'local';
  host?: string;
  port: number;
  username?: string;
  privateKeyPath?: string;
  hostKeySha256?: string;
  os: 'linux' | 'windows';
  workFolder: string;
  provider: (typeof PROVIDERS)[number];
  model?: string;
  agentBinary?: string;
  agentEnv: Record<string, string>;
  maxTurns?: number;
  permissionMode: PermissionMode;
  trustWorkspace: boolean;
  sessionId?: string;
  /** Tokens of its successful runs. */
  tokensIn: number;
  tokensOut: number;
  /** What every attempt on it reported costing (USD), failed ones included. */
  costUsd: number;
  hasSecret: boolean;
  createdAt: number;
  updatedAt: number;
}

export interface MemberSecret {
  privateKey?: string;
  passphrase?: string;
  password?: string;
}
