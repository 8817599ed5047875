// tsxen init [dir]: a new tsxen project from tools/init-template/: a
// package.json depending on this tsxen, src/main.ts (a UDP notes service
// with a disk), a tsconfig for editors, a test that runs the app in the sim
// and under Xen, a GitHub Actions workflow and a README. Files that exist
// are never overwritten.
import fs from "node:fs";
import path from "node:path";
import { REPO } from "./build.ts";

const TEMPLATE = path.join(REPO, "tools", "init-template");
// Template names npm pack would drop or mangle -> their names in the project.
const RENAMES: Record<string, string> = { gitignore: ".gitignore", github: ".github" };

export class InitError extends Error {
  override name = "InitError";
}

export interface InitOptions {
  dir: string;
  force?: boolean;      // write into a non-empty directory (keeping what is there)
  log?: (line: string) => void;
}

function packageName(dir: string): string {
  const name = path.basename(path.resolve(dir)).toLowerCase().replace(/[^a-z0-9._-]+/g, "-").replace(/^[._-]+/, "");
  return name || "tsxen-app";
}

function tsxenVersion(): string {
  return (JSON.parse(fs.readFileSync(path.join(REPO, "package.json"), "utf8")) as { version: string }).version;
}

function templateFiles(dir = TEMPLATE, rel = ""): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const r = rel ? `${rel}/${e.name}` : e.name;
    return e.isDirectory() ? templateFiles(path.join(dir, e.name), r) : [r];
  });
}

export function initProject(opts: InitOptions): string[] {
  const log = opts.log ?? ((s: string) => console.log(s));
  const dir = path.resolve(opts.dir);
  if (fs.existsSync(dir) && !fs.statSync(dir).isDirectory()) throw new InitError(`${opts.dir} exists and is not a directory`);
  const existing = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f !== ".git") : [];
  if (existing.length && !opts.force) {
    throw new InitError(`${opts.dir} is not empty (${existing.slice(0, 3).join(", ")}${existing.length > 3 ? ", …" : ""}); use --force to add the missing files only`);
  }
  const name = packageName(dir);
  const files = new Map<string, string>();
  files.set("package.json", JSON.stringify({
    name, version: "0.1.0", private: true, type: "module",
    description: "A Xen guest (PV or PVH) written with tsxen",
    scripts: {
      build: "tsxen build src/main.ts -o build/app.xen",
      sim: "tsxen sim src/main.ts",
      test: "node --test test/",
    },
    dependencies: { tsxen: `^${tsxenVersion()}` },
  }, null, 2) + "\n");
  for (const rel of templateFiles()) {
    const target = rel.split("/").map((p) => RENAMES[p] ?? p).join("/");
    files.set(target, fs.readFileSync(path.join(TEMPLATE, rel), "utf8").replaceAll("__NAME__", name));
  }
  const written: string[] = [];
  for (const [rel, text] of files) {
    const file = path.join(dir, rel);
    if (fs.existsSync(file)) {
      log(`tsxen init: kept ${rel} (exists)`);
      continue;
    }
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, text);
    written.push(rel);
  }
  log(`tsxen init: wrote ${written.join(", ")} in ${path.relative(process.cwd(), dir) || "."}`);
  const rel = path.relative(process.cwd(), dir);
  const cd = rel.startsWith("..") ? dir : rel;
  log(`next: ${cd ? `cd ${cd} && ` : ""}npm install && npm test   (README.md says how to talk to the app)`);
  return written;
}
