// Node module hooks that run the project's TypeScript tooling directly:
// .ts files are transpiled (types stripped) with TypeScript's
// transpileModule; everything else loads untouched. We do not use tsx for
// this: it also transforms large JavaScript dependencies, and loading
// binaryen.js (15 MB) through it took ~30 s instead of ~1 s here.
// Type checking is separate: `make typecheck` (tsc --noEmit).
//
// Transpiled modules are cached in ts/ of tsxen's cache directory
// (tools/cache-dir.mjs), keyed by the file's URL (its inline source map
// names it), its text, TypeScript's version and the options: every tsxen
// command and worker thread would otherwise load TypeScript and transpile
// the same files again (`tsxen build --help` took 5.1 s of CPU without the
// cache, 2.8 s with it).
import { readFile } from "node:fs/promises";
import { readFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { createRequire } from "node:module";
import path from "node:path";
import { cacheDir, readEntry, trimDir, writeEntry } from "./cache-dir.mjs";

// TypeScript's options (its enums once it is loaded; the key names them).
const OPTIONS_KEY = "module ESNext, target ES2022, inline source map";
const options = (ts) => ({
  module: ts.ModuleKind.ESNext,
  target: ts.ScriptTarget.ES2022,
  sourceMap: false,
  inlineSourceMap: true,
  rewriteRelativeImportExtensions: false,
});

// A few hundred files of a few tens of KiB per tsxen version.
const CACHE_LIMIT_BYTES = 64 << 20;
const CACHE = cacheDir("ts");
const require = createRequire(import.meta.url);
const TS_VERSION = JSON.parse(readFileSync(require.resolve("typescript/package.json"), "utf8")).version;
let typescript = null;
let written = 0;

export async function load(url, context, nextLoad) {
  if (!url.startsWith("file:") || !url.endsWith(".ts")) return nextLoad(url, context);
  const source = await readFile(new URL(url), "utf8");
  const entry = CACHE && path.join(CACHE, createHash("sha256").update(JSON.stringify([TS_VERSION, OPTIONS_KEY, url, source])).digest("hex") + ".mjs");
  const cached = entry && readEntry(entry);
  if (cached) return { format: "module", source: cached.toString("utf8"), shortCircuit: true };
  typescript ??= (await import("typescript")).default;
  const output = typescript.transpileModule(source, { compilerOptions: options(typescript), fileName: url }).outputText;
  if (entry && writeEntry(entry, output) && ++written % 64 === 1) trimDir(CACHE, CACHE_LIMIT_BYTES, ".mjs");
  return { format: "module", source: output, shortCircuit: true };
}
