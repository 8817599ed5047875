// Where tsxen keeps what it can rebuild (plain JavaScript: the TypeScript
// hooks use it before any TypeScript can load). $TSXEN_CACHE_DIR, else
// $XDG_CACHE_HOME/tsxen (~/.cache/tsxen); TSXEN_CACHE_DIR=off turns the
// caches off. Subdirectories: objects/ (gcc, tools/object-cache.ts) and ts/
// (transpiled TypeScript, tools/ts-hooks.mjs); the rig keeps its own
// download in rig/ (TSXEN_RIG_DIR). Entries are written to a temporary name
// and renamed, and trimmed least recently used first.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

/** The cache subdirectory `name`, or null when caching is off. */
export function cacheDir(name, env = process.env) {
  const root = env.TSXEN_CACHE_DIR;
  if (root === "off") return null;
  return path.join(root ? path.resolve(root) : path.join(env.XDG_CACHE_HOME ?? path.join(os.homedir(), ".cache"), "tsxen"), name);
}

/** Writes `data` to `file` through a temporary file and a rename; false if it could not (a full disk, a read-only home). */
export function writeEntry(file, data) {
  const tmp = `${file}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(tmp, data);
    fs.renameSync(tmp, file);
    return true;
  } catch {
    fs.rmSync(tmp, { force: true });
    return false;
  }
}

/** The entry's contents, marked used; null when there is none. */
export function readEntry(file) {
  let data;
  try {
    data = fs.readFileSync(file);
  } catch {
    return null;
  }
  const now = new Date();
  try {
    fs.utimesSync(file, now, now);
  } catch {
    // trimmed meanwhile: the copy read is whole all the same
  }
  return data;
}

/**
 * Once the files in `dir` ending in `suffix` hold more than `limit` bytes,
 * drops the least recently used until they hold at most 3/4 of it.
 */
export function trimDir(dir, limit, suffix) {
  let entries;
  try {
    entries = fs.readdirSync(dir).filter((f) => f.endsWith(suffix)).map((f) => {
      const file = path.join(dir, f);
      const st = fs.statSync(file);
      return { file, bytes: st.size, used: st.mtimeMs };
    });
  } catch {
    return; // no directory yet, or an entry another process just removed: next time
  }
  let total = entries.reduce((sum, e) => sum + e.bytes, 0);
  if (total <= limit) return;
  for (const e of entries.sort((a, b) => a.used - b.used)) {
    if (total <= (limit * 3) / 4) break;
    fs.rmSync(e.file, { force: true });
    total -= e.bytes;
  }
}
