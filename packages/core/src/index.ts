/** The shared vocabulary: no dependencies, imported by every package and app. */
export * from './categories';
export * from './names';
export * from './failure';
export * from './result';
export * from './options';
export * from './attempt-record';
export * from './member-check';
