import type { OsCommands, OsName } from './types';
import { unix } from './unix';
import { windows } from './windows';

export function getOsCommands(name: OsName): OsCommands {
  switch (name) {
    case 'linux':
      return unix;
    case 'windows':
      return windows;
  }
}

export type { OsCommands, OsName } from './types';
export * from './markers';
