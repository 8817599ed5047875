// gcc with an object cache for tsxen build: a compile whose compiler, flags
// and preprocessed source are the same as an earlier one's reuses that
// object instead of running gcc's code generation again (ccache's
// "preprocessor mode"). Thirteen of an image's C files are the runtime's
// (runtime/native/*.c), the same for most apps, and an unchanged app's
// app.c is the same too: measured on hello, a build took 16.4 s of CPU
// without the cache and 13.7 s with every object cached (gcc's step 4.3 s
// and 1.6 s); for a large app a rebuild also skips app.c (26 s of CPU for
// the test suite's probe image).
//
// The key is a SHA-256 of gcc's own description of itself (`gcc -v`), the
// code generation flags, and `gcc -E -P` of the source with every flag.
// Include paths, macros (-D) and -ffile-prefix-map are left out of the key:
// what they change is already in the preprocessed text (which header was
// read, what a macro expanded to, __FILE__), and keeping them would make
// every build directory a miss. The
// object's only trace of its source's path is the file symbol, which the
// image's strip removes.
//
// The cache is a directory of <key>.o files, objects/ in tsxen's cache
// directory (tools/cache-dir.mjs: ~/.cache/tsxen, TSXEN_CACHE_DIR moves it,
// TSXEN_CACHE_DIR=off turns it off). Entries are written to a temporary
// name and renamed, so a reader never sees half an object; a hit refreshes
// the entry's time, and trim() drops the least recently used entries when
// the directory grows past its limit. Compiles of one key running at the
// same time in one process wait for each other instead of compiling twice.
// A failing compile is never cached, and a cache that cannot be written
// (a full disk, a read-only home) only costs the time it would have saved.
import { execFile, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { promisify } from "node:util";
import fs from "node:fs";
import path from "node:path";
import { cacheDir, readEntry, trimDir, writeEntry } from "./cache-dir.mjs";

const run = promisify(execFile);

// Objects are 10 KiB to 2 MiB; 256 MiB holds a few hundred apps' worth.
export const CACHE_LIMIT_BYTES = 256 << 20;

export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string | null {
  return cacheDir("objects", env);
}

// Flags whose effect on the object is all in the preprocessed text: where
// headers come from, macros, __FILE__'s spelling. Each entry is a prefix;
// the ones that take their value as the next argument take it with them.
// (A -D that changes nothing the file uses, like the memory base in a file
// that never reads it, then changes nothing in the key either.)
const PATH_FLAGS_WITH_VALUE = new Set(["-I", "-isystem", "-iquote", "-include", "-D", "-U"]);
const PATH_FLAG_PREFIXES = ["-I", "-isystem", "-iquote", "-D", "-U", "-ffile-prefix-map=", "-fmacro-prefix-map=", "-fdebug-prefix-map="];

function keyFlags(flags: string[]): string[] {
  const kept: string[] = [];
  for (let i = 0; i < flags.length; i++) {
    if (PATH_FLAGS_WITH_VALUE.has(flags[i])) {
      i++;
      continue;
    }
    if (PATH_FLAG_PREFIXES.some((p) => flags[i].startsWith(p))) continue;
    kept.push(flags[i]);
  }
  return kept;
}

// `gcc -v` names the version, the target and how gcc was configured.
const compilerIds = new Map<string, Promise<string>>();
function compilerId(gcc: string): Promise<string> {
  let id = compilerIds.get(gcc);
  if (!id) {
    id = run(gcc, ["-v"]).then(({ stdout, stderr }) => `${fs.realpathSync(gcc)}\n${stdout}${stderr}`);
    compilerIds.set(gcc, id);
  }
  return id;
}

// Adds `gcc <flags> -E -P src` to `hash`, streamed (app.c preprocesses to
// megabytes); false when the preprocessor fails (the compile then runs and
// reports the error).
function preprocessedHash(gcc: string, flags: string[], src: string, hash: ReturnType<typeof createHash>): Promise<boolean> {
  return new Promise((resolve) => {
    const child = spawn(gcc, [...flags, "-E", "-P", src], { stdio: ["ignore", "pipe", "ignore"] });
    child.stdout.on("data", (chunk: Buffer) => hash.update(chunk));
    child.on("error", () => resolve(false));
    child.on("close", (code) => resolve(code === 0));
  });
}

async function cacheKey(gcc: string, flags: string[], src: string): Promise<string | null> {
  const hash = createHash("sha256");
  hash.update(await compilerId(gcc));
  hash.update(JSON.stringify(keyFlags(flags)));
  hash.update("\0");
  return (await preprocessedHash(gcc, flags, src, hash)) ? hash.digest("hex") : null;
}

// Compiles of a key in progress in this process (dir + key).
const inFlight = new Map<string, Promise<void>>();

export class ObjectCache {
  hits = 0;
  misses = 0;

  // dir null: no cache (every compile runs gcc).
  constructor(readonly dir: string | null = defaultCacheDir()) {}

  // gcc <flags> -c src -o obj, or the cached object for the same input.
  // Rejects with gcc's error (as execFile does) when the compile fails.
  async compile(gcc: string, flags: string[], src: string, obj: string): Promise<void> {
    const key = this.dir ? await cacheKey(gcc, flags, src) : null;
    if (!this.dir || !key) {
      this.misses++;
      await run(gcc, [...flags, "-c", src, "-o", obj], { maxBuffer: 16 << 20 });
      return;
    }
    const entry = path.join(this.dir, `${key}.o`);
    const pending = inFlight.get(entry);
    if (pending) await pending.catch(() => undefined);
    if (copyEntry(entry, obj)) {
      this.hits++;
      return;
    }
    this.misses++;
    const compiling = run(gcc, [...flags, "-c", src, "-o", obj], { maxBuffer: 16 << 20 }).then(() => store(obj, entry));
    inFlight.set(entry, compiling);
    try {
      await compiling;
    } finally {
      if (inFlight.get(entry) === compiling) inFlight.delete(entry);
    }
  }

  // Drops the least recently used entries until the directory holds at
  // most 3/4 of `limit` bytes, once it holds more than `limit`.
  trim(limit = CACHE_LIMIT_BYTES): void {
    if (this.dir) trimDir(this.dir, limit, ".o");
  }
}

// Copies a cached object to `obj` (marking it used); false when there is none.
function copyEntry(entry: string, obj: string): boolean {
  const data = readEntry(entry);
  if (data === null) return false;
  fs.writeFileSync(obj, data);
  return true;
}

function store(obj: string, entry: string): void {
  writeEntry(entry, fs.readFileSync(obj));
}
