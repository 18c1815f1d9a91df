export type StatTuple = [state: string, ppid: number, pgrp: number, sid: number, start: number];
export function stat(pid: number | string): StatTuple | undefined;
export function dead(state: string): boolean;
export function scan(self: number): number[];
