/** The agent CLIs a member can run. */
export const PROVIDER_NAMES = ['claude', 'gemini', 'codex', 'opencode', 'copilot', 'shell'] as const;
export type ProviderName = (typeof PROVIDER_NAMES)[number];

/** The states a prompt job is listed by (BullMQ's, `wait` named `waiting`). */
export const JOB_STATES = ['waiting', 'active', 'delayed', 'prioritized', 'completed', 'failed'] as const;
export type JobState = (typeof JOB_STATES)[number];

export const MEMBER_OS = ['linux', 'windows'] as const;

/** A model name as the CLIs take it (`provider/model`, `model@version`, `[1m]` suffixes). */
export const MODEL_NAME = /^[A-Za-z0-9][A-Za-z0-9._:/@[\]-]{0,127}$/;

/** A token that becomes one path segment or one argv element: a session id, a run id. */
export const ID_TOKEN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** A program to run: an absolute path or a name on PATH. */
export const PROGRAM_PATH = /^[A-Za-z0-9_./][A-Za-z0-9_./+@-]{0,511}$/;

/** An environment variable name. */
export const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
