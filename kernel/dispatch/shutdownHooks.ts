/** Work to do before the kernel exits (stop the BEAM bridge, …), whatever ends it. One set per kernel. */
type Hook = () => Promise<void> | void;

export class ShutdownHooks {
  private readonly hooks: Hook[] = [];

  add(hook: Hook): void {
    this.hooks.push(hook);
  }

  /** Runs every hook, each bounded in time, so a stuck hook never keeps the kernel alive. */
  async run(timeoutMs = 3000): Promise<void> {
    await Promise.all(
      this.hooks.splice(0).map((h) =>
        Promise.race([Promise.resolve().then(h).catch(() => undefined), new Promise((r) => setTimeout(r, timeoutMs).unref())]),
      ),
    );
  }
}
