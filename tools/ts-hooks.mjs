// Node module hooks that run the project's TypeScript tooling directly:
// .ts files are transpiled (types stripped) with TypeScript's
// transpileModule; everything else loads untouched. We do not use tsx for
// this: it also transforms large JavaScript dependencies, and loading
// binaryen.js (15 MB) through it took ~30 s instead of ~1 s here.
// Type checking is separate: `make typecheck` (tsc --noEmit).
import { readFile } from "node:fs/promises";
import ts from "typescript";

const OPTIONS = {
  module: ts.ModuleKind.ESNext,
  target: ts.ScriptTarget.ES2022,
  sourceMap: false,
  inlineSourceMap: true,
  rewriteRelativeImportExtensions: false,
};

export async function load(url, context, nextLoad) {
  if (!url.startsWith("file:") || !url.endsWith(".ts")) return nextLoad(url, context);
  const source = await readFile(new URL(url), "utf8");
  const { outputText } = ts.transpileModule(source, { compilerOptions: OPTIONS, fileName: url });
  return { format: "module", source: outputText, shortCircuit: true };
}
