/** SIGINT/SIGTERM become an abort: the run brings itself to a safe end instead of dying mid-write. */
import type { Logger } from '../log';

export function abortOnStopSignals(log: Logger, consequence: string): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    log.warn(`signal received: stopping safely (${consequence})`, { signal });
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    signal: controller.signal,
    dispose: () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}
