import { readFileSync } from 'node:fs';

/**
 * Reads an OS layer's script files once, at load: `names` under `dir` (a URL ending in `/`), each
 * with `ext`, without their comment lines (they would travel with every command). The scripts are
 * constant text; every variable part reaches them as an argument.
 */
export function loadScripts<N extends string>(dir: URL, ext: string, names: readonly N[]): Record<N, string> {
  const out = {} as Record<N, string>;
  for (const n of names) {
    const text = readFileSync(new URL(`${n}${ext}`, dir), 'utf8');
    out[n] = text
      .split('\n')
      .filter((l) => !/^\s*#/.test(l))
      .join('\n');
  }
  return out;
}

/** The run protocol's steps, one script each on every OS (lib holds what they share). */
export const RUN_STEP_SCRIPTS = [
  'lib',
  'supervisor',
  'start-run',
  'reattach',
  'probe',
  'kill',
  'triage',
  'claim-run',
  'prepare-run-dir',
  'read-file',
  'read-file-tail',
] as const;
