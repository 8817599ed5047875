// tools/object-cache.ts: gcc's objects reused when the compiler, the flags
// and the preprocessed source are the same, and only then.
import test from "tape";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { ObjectCache, defaultCacheDir } from "../../tools/object-cache.ts";
import { findTool } from "../../tools/toolchain.ts";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "tsxen-object-cache-test-"));
test.onFinish(() => fs.rmSync(tmp, { recursive: true, force: true }));
const gcc = findTool("gcc");

// A source file including a header, in a directory of its own (as each build has its work dir).
function project(name: string, header: string, body = "int twice(int x) { return VALUE * x; }\n"): { src: string; flags: string[] } {
  const dir = path.join(tmp, name);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, "value.h"), header);
  fs.writeFileSync(path.join(dir, "unit.c"), `#include "value.h"\n${body}`);
  return { src: path.join(dir, "unit.c"), flags: ["-O2", "-I", dir, `-ffile-prefix-map=${dir}=app`] };
}

async function compile(cache: ObjectCache, p: { src: string; flags: string[] }, extra: string[] = []): Promise<Buffer> {
  const obj = `${p.src}.${cache.hits + cache.misses}.o`;
  await cache.compile(gcc, [...p.flags, ...extra], p.src, obj);
  return fs.readFileSync(obj);
}

test("object cache: the same source compiled again, from another directory, is a hit with the same object", async (t) => {
  const cache = new ObjectCache(path.join(tmp, "cache-same"));
  const first = await compile(cache, project("a", "#define VALUE 2\n"));
  t.deepEqual([cache.hits, cache.misses], [0, 1], "the first compile runs gcc");
  const second = await compile(cache, project("b", "#define VALUE 2\n"));
  t.deepEqual([cache.hits, cache.misses], [1, 1], "the second, in another directory (other -I, other prefix map), is a hit");
  t.ok(first.equals(second), "and gets the object gcc wrote");
  t.equal(fs.readdirSync(cache.dir!).filter((f) => f.endsWith(".o")).length, 1, "one entry, no temporary file left");
});

test("object cache: a changed header, a changed flag or a changed body is a miss", async (t) => {
  const cache = new ObjectCache(path.join(tmp, "cache-changes"));
  const base = await compile(cache, project("c", "#define VALUE 2\n"));
  const header = await compile(cache, project("d", "#define VALUE 3\n"));
  t.equal(cache.misses, 2, "a header the source includes changed: compiled");
  t.notOk(header.equals(base), "(and the object differs)");
  await compile(cache, project("c", "#define VALUE 2\n"), ["-fno-omit-frame-pointer"]);
  t.equal(cache.misses, 3, "another code generation flag: compiled");
  await compile(cache, project("e", "#define VALUE 2\n", "int twice(int x) { return x + VALUE * x; }\n"));
  t.equal(cache.misses, 4, "another body: compiled");
  t.equal(cache.hits, 0, "no hit among them");
  await compile(cache, project("f", "#ifndef VALUE\n#define VALUE 2\n#endif\n"), ["-DVALUE=7"]);
  t.equal(cache.misses, 5, "a -D the source uses: compiled");
  const unused = await compile(cache, project("f", "#ifndef VALUE\n#define VALUE 2\n#endif\n"), ["-DUNUSED=1"]);
  t.equal(cache.hits, 1, "a -D the source never reads: a hit (macros act through the preprocessed text)");
  t.ok(unused.equals(base), "with the object of VALUE 2");
});

test("object cache: compiles of one key at the same time run gcc once", async (t) => {
  const cache = new ObjectCache(path.join(tmp, "cache-concurrent"));
  const objects = await Promise.all(["g", "h", "i"].map((n) => compile(cache, project(n, "#define VALUE 5\n"))));
  t.deepEqual([cache.hits, cache.misses], [2, 1], "one compile, two waited for it");
  t.ok(objects.every((o) => o.equals(objects[0])), "all three got the same object");
});

test("object cache: a failing compile rejects with gcc's message and is not cached; off means no cache", async (t) => {
  const cache = new ObjectCache(path.join(tmp, "cache-errors"));
  const broken = project("j", "#define VALUE 2\n", "int twice(int x) { return VALUE * ; }\n");
  for (let i = 0; i < 2; i++) {
    try {
      await compile(cache, broken);
      t.fail("the broken source compiled");
    } catch (e) {
      t.match(String((e as { stderr?: string }).stderr), /expected expression/, `gcc's error (attempt ${i + 1})`);
    }
  }
  t.equal(fs.existsSync(cache.dir!) ? fs.readdirSync(cache.dir!).length : 0, 0, "nothing cached");
  t.equal(defaultCacheDir({ TSXEN_CACHE_DIR: "off" }), null, "TSXEN_CACHE_DIR=off: no cache");
  t.equal(defaultCacheDir({ TSXEN_CACHE_DIR: "/y" }), "/y/objects", "TSXEN_CACHE_DIR=/y: in /y/objects");
  t.equal(defaultCacheDir({ XDG_CACHE_HOME: "/x" }), "/x/tsxen/objects", "else under XDG_CACHE_HOME");
  const off = new ObjectCache(null);
  await compile(off, project("k", "#define VALUE 2\n"));
  await compile(off, project("k", "#define VALUE 2\n"));
  t.deepEqual([off.hits, off.misses], [0, 2], "without a cache every compile runs gcc");
});

test("object cache: trim drops the least recently used entries once past the limit", async (t) => {
  const cache = new ObjectCache(path.join(tmp, "cache-trim"));
  const entries = () => fs.readdirSync(cache.dir!).sort();
  const entryOf = new Map<number, string>();
  for (const v of [1, 2, 3, 4]) {
    const before = fs.existsSync(cache.dir!) ? entries() : [];
    await compile(cache, project(`t${v}`, `#define VALUE ${v}\n`));
    entryOf.set(v, entries().find((f) => !before.includes(f))!);
    // used a minute ago, in the order compiled
    const when = new Date(Date.now() - 60_000 + v * 1000);
    fs.utimesSync(path.join(cache.dir!, entryOf.get(v)!), when, when);
  }
  await compile(cache, project("t1again", "#define VALUE 1\n"));
  t.equal(cache.hits, 1, "VALUE 1 again: a hit, which makes it the most recently used");
  const size = (f: string) => fs.statSync(path.join(cache.dir!, f)).size;
  const total = entries().reduce((s, f) => s + size(f), 0);
  cache.trim(total);
  t.equal(entries().length, 4, "at the limit: nothing dropped");
  cache.trim(total - 1);
  const left = entries();
  t.ok(left.reduce((s, f) => s + size(f), 0) <= ((total - 1) * 3) / 4, `past it: down to 3/4 of the limit (${4 - left.length} dropped)`);
  t.notOk(left.includes(entryOf.get(2)!), "VALUE 2, now the least recently used, went first");
  t.ok(left.includes(entryOf.get(1)!), "VALUE 1, used last, stays");
});
