/**
 * node-cron, loaded when a cron expression is first read. It stays outside the
 * bundle (it forks its own daemon file) and so outside the code cache: loading
 * it took 17 ms of every run, while only the daemon and a configured
 * `schedule:` need it.
 */
import type * as NodeCron from 'node-cron';

let loaded: typeof NodeCron | null = null;

export function nodeCron(): typeof NodeCron {
  loaded ??= require('node-cron') as typeof NodeCron;
  return loaded;
}
