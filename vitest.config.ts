import { defineConfig } from "vitest/config";

// Integration tests start real kernels, BEAM nodes and Jupyter servers: they get long timeouts and run
// one file at a time so two suites never fight over the machine's two cores.
export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    fileParallelism: false,
    pool: "forks",
  },
});
