export * from './ports';
export * from './procs';
export * from './tmp';
export * from './redis';
export * from './sshd';
export * from './agents';
export * from './netns';
export * from './model-server';
