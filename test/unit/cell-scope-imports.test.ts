import { describe, expect, it } from "vitest";
import { CellScopeImports } from "../../kernel/evaluation/cellScopeImports";

const PRELUDE = `import { latencyTable, display, show } from "/pkg/prelude";
import * as aq from "/pkg/arquero";
import { op, desc } from "/pkg/arquero";
`;

describe("the cell scope's imports given to the compiler", () => {
  it("gives none to a cell that names nothing of the scope", () => {
    expect(new CellScopeImports(PRELUDE, ["__lumin_magic__"]).reachableFrom("[1, 2, 3].map((x) => x * 2)", "")).toBe("");
  });

  it("gives the names a cell or the earlier declarations mention, word by word", () => {
    const scope = new CellScopeImports(PRELUDE);
    expect(scope.reachableFrom("display(t.show)", "declare const t: aq.ColumnTable;")).toBe(
      'import { display, show } from "/pkg/prelude";\nimport * as aq from "/pkg/arquero";\n',
    );
    expect(scope.reachableFrom("const displayed = opt", "")).toBe("");
  });

  it("gives the module that declares a global the cell names, for its types only", () => {
    const scope = new CellScopeImports(PRELUDE, ["__lumin_magic__"]);
    expect(scope.reachableFrom("await __lumin_magic__('time', '1')", "")).toBe('import "/pkg/prelude";\n');
  });

  it("keeps the notebook's own declarations, and never gives again a name a cell declared itself", () => {
    const scope = new CellScopeImports(PRELUDE);
    const given = scope.reachableFrom("const show = 5; display(show)", "");
    const back = 'declare const show = 5;\nimport { display } from "/pkg/prelude";\nimport "/pkg/prelude";\nimport fs from "fs";\n';
    expect(scope.own(back, given)).toBe('declare const show = 5;\nimport fs from "fs";\n');
    expect(scope.reachableFrom("display(show)", "")).toBe('import { display } from "/pkg/prelude";\n');
    expect(scope.all()).toBe('import { latencyTable, display } from "/pkg/prelude";\nimport * as aq from "/pkg/arquero";\nimport { op, desc } from "/pkg/arquero";\n');
  });
});
