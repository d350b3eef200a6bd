/** Work to do before the kernel exits (stop the BEAM bridge, …), whatever ends it. */
type Hook = () => Promise<void> | void;
const hooks: Hook[] = [];

export function onShutdown(hook: Hook): void {
  hooks.push(hook);
}

/** Runs every hook, each bounded in time, so a stuck hook never keeps the kernel alive. */
export async function runShutdownHooks(timeoutMs = 3000): Promise<void> {
  await Promise.all(
    hooks.splice(0).map((h) =>
      Promise.race([Promise.resolve().then(h).catch(() => undefined), new Promise((r) => setTimeout(r, timeoutMs).unref())]),
    ),
  );
}
