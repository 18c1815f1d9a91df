import { claude } from './claude';
import { codex } from './codex';
import { copilot } from './copilot';
import { gemini } from './gemini';
import { opencode } from './opencode';
import { shell } from './shell';
import type { Provider, ProviderName } from './types';

const PROVIDERS: Readonly<Record<ProviderName, Provider>> = { claude, gemini, codex, opencode, copilot, shell };

export function getProvider(name: ProviderName): Provider {
  return PROVIDERS[name];
}

export { classifyError } from './classify';
export * from './types';
