/** The systemd-notify package ships no types; this is the part we call. */
declare module 'systemd-notify' {
  interface NotifyOptions {
    ready?: boolean;
    status?: string;
    pid?: number;
  }
  /** Spawns `systemd-notify` (from PATH, with process.env); rejects with its stderr text on failure. */
  function notify(opts?: NotifyOptions): Promise<unknown>;
  export = notify;
}
