/** Stops the private server that global-setup started, if it started one. */
export default async function globalTeardown(): Promise<void> {
  await globalThis.__SB_PRIVATE_SERVER__?.stop();
}
