/** Debian's Chromium, headless and offline, for tests that look at a page as a reader would. */
import { execFile } from "node:child_process";
import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";

export const CHROMIUM = "/usr/bin/chromium";
const FLAGS = [
  "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
  "--disable-component-update", "--disable-sync", "--virtual-time-budget=10000", "--enable-logging=stderr", "--v=0",
  "--hide-scrollbars",
];

/** Run Chromium with `args`, in a fresh profile unless one is given. */
export function chromium(args: string[], userDataDir = mkdtempSync(path.join(os.tmpdir(), "lumin-chromium-"))): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) =>
    execFile(CHROMIUM, [...FLAGS, `--user-data-dir=${userDataDir}`, ...args], { timeout: 120_000, maxBuffer: 64 * 1024 * 1024 }, (err, out, errOut) =>
      err ? reject(new Error(`${err.message}\n${errOut.slice(-3000)}`)) : resolve({ stdout: out, stderr: errOut }),
    ),
  );
}

/** A screenshot of `file` (a local HTML page) at the given window size, written to `png`. */
export async function screenshot(file: string, png: string, size = "1000,1400"): Promise<void> {
  await chromium([`--screenshot=${png}`, `--window-size=${size}`, `file://${file}`]);
}
