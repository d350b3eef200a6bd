/**
 * Loads the TypeScript compiler (9 MB of JavaScript) with a V8 code cache, so a kernel after the first on this
 * machine skips compiling it: a tenth of the compiler thread's start-up work. The cache is written once the
 * compiler has been used (so it holds the functions compiled lazily as well), in the user's cache folder
 * (`$XDG_CACHE_HOME/elixirlumin`, else `~/.cache/elixirlumin`), named by TypeScript's and Node's versions.
 * V8 checks a cache against the source and rejects one that does not match; any failure here only means the
 * compiler loads the ordinary way.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import Module from "node:module";
import os from "node:os";
import path from "node:path";
import vm from "node:vm";

export interface TypeScriptLoad {
  /** Write the cache now if it was missing or rejected (call after the compiler has done its first work). */
  saveCache(): void;
}

/** Puts tslab's TypeScript into the module cache, loaded with the code cache when there is one. */
export function loadTypeScriptCached(): TypeScriptLoad {
  const nothing = { saveCache() {} };
  let file: string;
  try {
    file = require.resolve("@tslab/typescript-for-tslab", { paths: [path.dirname(require.resolve("tslab/package.json"))] });
  } catch {
    return nothing;
  }
  if (require.cache[file]) return nothing;
  const version = (() => {
    try {
      return JSON.parse(readFileSync(path.join(path.dirname(file), "..", "package.json"), "utf8")).version as string;
    } catch {
      return "unknown";
    }
  })();
  const dir = path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), ".cache"), "elixirlumin");
  const cacheFile = path.join(dir, `typescript-${version}-node${process.version}-${process.arch}.v8cache`);
  let cached: Buffer | undefined;
  try {
    cached = readFileSync(cacheFile);
  } catch {
    cached = undefined;
  }
  let script: vm.Script;
  const mod = new Module(file, module);
  try {
    script = new vm.Script(Module.wrap(readFileSync(file, "utf8")), { filename: file, cachedData: cached });
    mod.filename = file;
    mod.paths = (Module as unknown as { _nodeModulePaths(dir: string): string[] })._nodeModulePaths(path.dirname(file));
    require.cache[file] = mod;
    (script.runInThisContext() as (...a: unknown[]) => void).call(mod.exports, mod.exports, Module.createRequire(file), mod, file, path.dirname(file));
    mod.loaded = true;
  } catch {
    delete require.cache[file];
    return nothing;
  }
  const stale = !cached || script.cachedDataRejected === true;
  return {
    saveCache() {
      if (!stale) return;
      try {
        mkdirSync(dir, { recursive: true });
        const tmp = `${cacheFile}.${process.pid}.tmp`;
        writeFileSync(tmp, script.createCachedData());
        renameSync(tmp, cacheFile);
      } catch {
        // A read-only home: the next kernel compiles TypeScript the ordinary way.
      }
    },
  };
}
