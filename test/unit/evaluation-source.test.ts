/** Reading a cell for completion and inspection: where a magic starts, magics masked for TypeScript, the called function. */
import { describe, expect, it } from "vitest";
import { magicStart, maskMagics } from "../../kernel/evaluation/cellSource";
import { calleeAt } from "../../kernel/evaluation/tsEvaluator";

describe("magicStart", () => {
  it("finds a magic at the start of a line or bound by an assignment", () => {
    expect(magicStart("%events p1")).toBe(0);
    expect(magicStart("  %%elixir")).toBe(2);
    expect(magicStart("const t = %events ")).toBe(10);
    expect(magicStart("let t: ColumnTable = %ev")).toBe(21);
    expect(magicStart("x.y = %time 1")).toBe(6);
    expect(magicStart("const pct = 5 % 2")).toBe(-1);
    expect(magicStart("display(t)")).toBe(-1);
  });
});

describe("maskMagics", () => {
  it("blanks magics keeping every offset, a bound one becoming a value", () => {
    const src = "%probes\nconst t = %events p1 --wait=5s\nt.numRows()";
    const masked = maskMagics(src);
    expect(masked.length).toBe(src.length);
    expect(masked.split("\n")).toEqual([" ".repeat(7), `const t = 0${" ".repeat(19)}`, "t.numRows()"]);
  });

  it("leaves magics inside template literals alone", () => {
    const src = "const s = `\n%not a magic\n`";
    expect(maskMagics(src)).toBe(src);
  });
});

describe("calleeAt", () => {
  it("points inside the name of the function whose parentheses hold the cursor", () => {
    const at = (code: string) => {
      const i = calleeAt(code, code.length);
      return i === undefined ? undefined : code.slice(0, i + 1).match(/[\w$]+$/)![0];
    };
    expect(at("latencyTable(")).toBe("latencyTable");
    expect(at("latencyTable(t, { by: [")).toBe("latencyTable");
    expect(at("display(f(1), ")).toBe("display");
    expect(at("Math.max (1, ")).toBe("max");
    expect(at("f<string>(")).toBe("f");
    expect(at("const x = 1")).toBeUndefined();
    expect(at("(1 + ")).toBeUndefined();
  });
});
