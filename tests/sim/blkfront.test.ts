// blkfront (drivers/blkfront.ts) against the simulated blkback
// (sim/blkback.ts), with the test apps in tests/apps/blk-*.ts: every
// backend feature on and off, random read/write/flush/discard sequences
// checked against a model of the disk (in the guest, and the sim's disk
// against the guest's CRC-32s), several disks at once, a read-only disk,
// the API's edges, hostile xenstore values and a hostile backend fuzzed
// over many seeds (no trap, the disk marked broken, no grant left mapped
// or granted). The feature combinations and three disks at once also run
// with the guest booted as PVH (grants name guest frames there).
import test from "tape";
import zlib from "node:zlib";
import { type SimResult } from "../../sim/host.ts";
import { SimBlkback, rng, type BlkbackOptions, HOSTILE_KINDS } from "../../sim/blkback.ts";
import { willBuild, startedGuest } from "./helpers.ts";

// The apps these tests build, compiled ahead of time (tests/sim/helpers.ts).
willBuild("tests/apps/blk-model.ts");
willBuild("tests/apps/blk-edge.ts");
willBuild("tests/apps/blk-hostile.ts");

const MODEL = "tests/apps/blk-model.ts";
const EDGE = "tests/apps/blk-edge.ts";
const HOSTILE = "tests/apps/blk-hostile.ts";
const MIB = 1 << 20;

type DiskSpec = Omit<BlkbackOptions, "disk"> & { size?: number; content?: number };

function disk(size: number, seed: number): Uint8Array {
  const r = rng(seed);
  const d = new Uint8Array(size);
  const view = new DataView(d.buffer);
  for (let i = 0; i < size; i += 4) view.setUint32(i, Math.floor(r() * 2 ** 32), true);
  return d;
}

const hex = (n: number) => n.toString(16).padStart(8, "0");

async function simRun(app: string, cmdline: string, specs: DiskSpec[], mode: "pv" | "pvh" = "pv") {
  const g = await startedGuest(app, { cmdline, mode });
  const disks = specs.map((s, i) => disk(s.size ?? 2 * MIB, s.content ?? 100 + i));
  const initial = disks.map((d) => hex(zlib.crc32(d)));
  const backs = specs.map((s, i) => new SimBlkback(g, { devid: 51712 + 16 * i, ...s, disk: disks[i] }));
  const r: SimResult = await g.run();
  const lines = r.console.split("\n");
  return { g, r, lines, backs, disks, initial };
}

type Run = Awaited<ReturnType<typeof simRun>>;

// What every blk-model run must show: no failure, the model's CRCs equal
// to the sim's disk before and after, a frontend the backend had no
// complaint about, and nothing left mapped or granted.
function modelOk(t: test.Test, run: Run): void {
  const { r, lines, backs, disks, initial, g } = run;
  t.equal(r.reason, "poweroff", "the guest powered off");
  t.deepEqual(lines.filter((l) => /FAIL|trap|panic|broken/.test(l)), [], "no failure on the console");
  t.ok(lines.includes("blk-model: 0 failures"), "blk-model: 0 failures");
  backs.forEach((b, i) => {
    t.ok(lines.includes(`blk-model: disk ${b.devid} initial crc32 ${initial[i]}`), `disk ${b.devid}: the first full read matches the disk (${initial[i]})`);
    const final = hex(zlib.crc32(disks[i]));
    t.ok(lines.some((l) => l.startsWith(`blk-model: disk ${b.devid} `) && l.includes(`final crc32 ${final}`)), `disk ${b.devid}: the model equals the sim's disk at the end (${final})`);
    t.deepEqual(b.frontendErrors, [], `disk ${b.devid}: the backend saw no frontend mistake (no flush with requests in flight, no overlapping writes)`);
  });
  t.ok(lines.includes("blk-model: grants in use 0, leaked 0"), "every grant ended");
  t.equal(g.dom0.activeGrantMappings(), 0, "no grant mapping left in dom0");
}

const featureLine = (run: Run, devid = 51712) => run.lines.find((l) => l.startsWith(`blkfront ${devid} `)) ?? "";

// ---- feature combinations

interface Combo {
  name: string;
  spec: DiskSpec;
  cmdline?: string;
  line: RegExp[];                     // in the guest's connect line
  check: (t: test.Test, b: SimBlkback) => void;
}

const ops = (b: SimBlkback, op: string) => b.stats.ops[op] ?? 0;

const COMBOS: Combo[] = [
  {
    name: "no features: one page, 11 segments, grant copies, flush a no-op",
    spec: {},
    line: [/ring 1 page \(32 slots/, /11 segments\/request \(no indirect\)/, /persistent no, flush no, barrier no, discard no/],
    check: (t, b) => {
      t.equal(b.stats.ringPages, 1);
      t.equal(b.stats.maxSegments, 11, "full requests of 11 segments");
      t.equal(b.stats.indirect + ops(b, "flush") + ops(b, "barrier") + ops(b, "discard"), 0, "no indirect, flush, barrier or discard requests");
      t.equal(b.stats.persistentMaps, 0, "grant copies only");
    },
  },
  {
    name: "feature-flush-cache",
    spec: { flush: true },
    line: [/flush yes, barrier no/],
    check: (t, b) => t.ok(ops(b, "flush") > 0 && ops(b, "barrier") === 0, `${ops(b, "flush")} flushes`),
  },
  {
    name: "feature-barrier only: flushes become empty barriers",
    spec: { barrier: true },
    line: [/flush no, barrier yes/],
    check: (t, b) => t.ok(ops(b, "barrier") > 0 && ops(b, "flush") === 0, `${ops(b, "barrier")} barriers`),
  },
  {
    name: "feature-discard",
    spec: { discard: true },
    line: [/discard yes \(granularity 512, alignment 0\)/],
    check: (t, b) => t.ok(ops(b, "discard") > 0, `${ops(b, "discard")} discards`),
  },
  {
    name: "feature-discard with granularity 4096 and alignment 1024: trimmed to whole units",
    spec: { discard: { granularity: 4096, alignment: 1024, secure: true } },
    line: [/discard yes \(granularity 4096, alignment 1024, secure\)/],
    check: (t, b) => t.ok(ops(b, "discard") > 0, `${ops(b, "discard")} discards, each in whole units (else a frontend error)`),
  },
  {
    name: "feature-max-indirect-segments 256: indirect requests of up to 64 segments",
    spec: { indirect: 256 },
    line: [/64 segments\/request \(indirect, backend max 256\)/],
    check: (t, b) => {
      t.ok(b.stats.indirect > 0, `${b.stats.indirect} indirect requests`);
      t.equal(b.stats.maxSegments, 64);
    },
  },
  {
    name: "feature-max-indirect-segments 8 (below 11): plain requests",
    spec: { indirect: 8 },
    line: [/11 segments\/request \(backend indirect max 8 unused\)/],
    check: (t, b) => t.equal(b.stats.indirect, 0),
  },
  {
    name: "indirect with a 512-segment limit and a small pool (fewer pages than a ring of requests)",
    spec: { indirect: 512 },
    cmdline: "indirect=512 pool=600",
    line: [/512 segments\/request/, /600 bounce pages/],
    check: (t, b) => t.ok(b.stats.maxSegments > 64 && b.stats.maxSegments <= 512, `largest request ${b.stats.maxSegments} segments`),
  },
  {
    name: "max-ring-page-order 2: a 4-page ring (128 slots, slots straddle pages)",
    spec: { maxRingPageOrder: 2 },
    line: [/ring 4 pages \(128 slots, backend max order 2\)/],
    check: (t, b) => t.equal(b.stats.ringPages, 4),
  },
  {
    name: "max-ring-page-order 4, the driver allowed order 4: 16 pages",
    spec: { maxRingPageOrder: 4 },
    cmdline: "order=4",
    line: [/ring 16 pages \(512 slots/],
    check: (t, b) => t.equal(b.stats.ringPages, 16),
  },
  {
    name: "max-ring-page-order 4, the driver's default limit (order 2)",
    spec: { maxRingPageOrder: 4 },
    line: [/ring 4 pages/],
    check: (t, b) => t.equal(b.stats.ringPages, 4),
  },
  {
    name: "feature-persistent: the backend keeps the pool mapped",
    spec: { persistent: true },
    line: [/persistent yes/],
    check: (t, b) => t.ok(b.stats.persistentMaps > 0 && b.stats.persistentMaps <= 256, `${b.stats.persistentMaps} grants kept mapped (at most the pool)`),
  },
  {
    name: "everything at once",
    spec: { flush: true, barrier: true, discard: { granularity: 4096 }, indirect: 256, maxRingPageOrder: 4, persistent: true },
    line: [/ring 4 pages/, /indirect/, /persistent yes, flush yes, barrier yes, discard yes/],
    check: (t, b) => {
      t.ok(b.stats.indirect > 0 && ops(b, "flush") > 0 && ops(b, "discard") > 0 && b.stats.persistentMaps > 0, "indirect, flush, discard and persistent all used");
      t.equal(ops(b, "barrier"), 0, "flush preferred over barrier");
    },
  },
];

// A test name's mode tag: none for PV (the default), " [pvh]" for PVH.
const modeTag = (mode: "pv" | "pvh") => (mode === "pv" ? "" : ` [${mode}]`);

for (const mode of ["pv", "pvh"] as const) for (const [i, c] of COMBOS.entries()) {
  test(`blkfront sim${modeTag(mode)}: ${c.name}`, async (t) => {
    const run = await simRun(MODEL, `seed=${11 + i} ops=200 ${c.cmdline ?? ""}`, [c.spec], mode);
    modelOk(t, run);
    const line = featureLine(run);
    for (const re of c.line) t.match(line, re, `connect line: ${re.source}`);
    c.check(t, run.backs[0]);
  });
}

test("blkfront sim: random sequences, many seeds, with every feature and with none", async (t) => {
  const all: DiskSpec = { flush: true, discard: { granularity: 1024 }, indirect: 128, maxRingPageOrder: 3, persistent: true, latencyNs: 200_000 };
  for (let seed = 1; seed <= 6; seed++) {
    for (const [name, spec] of [["all", all], ["none", {}]] as const) {
      const run = await simRun(MODEL, `seed=${seed * 7919} ops=300`, [{ ...spec, seed, content: seed }]);
      const bad = run.lines.filter((l) => /FAIL|trap|panic|broken/.test(l));
      t.deepEqual(bad, [], `seed ${seed}, ${name}: no failure`);
      t.ok(run.lines.includes("blk-model: 0 failures") && run.lines.includes("blk-model: grants in use 0, leaked 0"), `seed ${seed}, ${name}: model checks passed, grants ended`);
      const final = hex(zlib.crc32(run.disks[0]));
      t.ok(run.lines.some((l) => l.includes(`final crc32 ${final}`)), `seed ${seed}, ${name}: the model equals the disk (${final})`);
      t.deepEqual(run.backs[0].frontendErrors, [], `seed ${seed}, ${name}: no frontend mistakes`);
      t.equal(run.g.dom0.activeGrantMappings(), 0);
    }
  }
});

for (const mode of ["pv", "pvh"] as const) test(`blkfront sim${modeTag(mode)}: three disks at once, each with its own features, channel and pool`, async (t) => {
  const run = await simRun(MODEL, "seed=5 ops=150", [
    { flush: true, persistent: true },
    { indirect: 64, maxRingPageOrder: 1, size: MIB },
    { discard: true, barrier: true, size: 3 * MIB },
  ], mode);
  modelOk(t, run);
  t.match(featureLine(run, 51712), /2 MiB.*persistent yes, flush yes/);
  t.match(featureLine(run, 51728), /1 MiB.*ring 2 pages.*indirect/);
  t.match(featureLine(run, 51744), /3 MiB.*barrier yes, discard yes/);
  t.ok(run.backs.every((b) => b.stats.connects === 1 && b.stats.bytesWritten > 0), "every disk was connected and written");
});

// ---- edges

async function edge(t: test.Test, name: string, spec: DiskSpec): Promise<Run> {
  const run = await simRun(EDGE, `case=${name}`, [spec]);
  t.equal(run.r.reason, "poweroff");
  t.deepEqual(run.lines.filter((l) => /FAIL|trap|panic/.test(l)), [], "no failed check");
  t.ok(run.lines.includes("blk-edge: 0 failures"), "blk-edge: 0 failures");
  t.ok(run.lines.includes("blk-edge: grants in use 0"), "every grant ended");
  t.equal(run.g.dom0.activeGrantMappings(), 0, "nothing left mapped");
  return run;
}

test("blkfront sim: a read-only disk (mode r) refuses writes and discards with a clear error, and reads", async (t) => {
  const run = await edge(t, "ro", { readOnly: true, discard: true, flush: true, size: MIB });
  t.match(featureLine(run), /read-only \(mode r, info 0x4\)/);
  t.ok(run.lines.some((l) => l === "blk-edge: ok write refused: xvda: read-only disk (mode r): write refused"), "the write's error names the disk and the reason");
  t.ok(run.lines.includes(`blk-edge: crc32 ${run.initial[0]}`), "the whole disk read back intact");
  t.equal(ops(run.backs[0], "write") + ops(run.backs[0], "discard"), 0, "nothing but reads (and flushes) reached the backend");
  t.deepEqual(run.backs[0].frontendErrors, []);
});

test("blkfront sim: a backend that offers flush and then refuses it (EOPNOTSUPP)", async (t) => {
  const run = await edge(t, "eopnotsupp", { flush: false, keys: { "feature-flush-cache": "1" } });
  t.equal(ops(run.backs[0], "flush"), 1, "one flush sent, none after the refusal");
});

test("blkfront sim: sector-size 4096: requests must be whole blocks", async (t) => {
  const run = await edge(t, "sector4k", { sectorSize: 4096 });
  t.match(featureLine(run), /sector-size 4096/);
});

test("blkfront sim: I/O errors fail their requests and leave the disk usable", async (t) => {
  await edge(t, "ioerror", { badSectors: { first: 100, count: 4 } });
});

// ---- hostile backends

interface HostileRun {
  broken: string | null;
  run: Run;
}

async function hostile(cmdline: string, spec: DiskSpec): Promise<HostileRun> {
  const run = await simRun(HOSTILE, cmdline, [{ size: MIB, ...spec }]);
  const m = run.lines.map((l) => /^blk-hostile: disk \d+ broken after \d+ requests \(\d+ errors\): (.*)$/.exec(l)).find((x) => x);
  return { broken: m ? m[1] : null, run };
}

function survivedCleanly(t: test.Test, h: HostileRun, what: string): void {
  const { run } = h;
  t.equal(run.r.reason, "poweroff", `${what}: powered off (no trap, no panic)`);
  t.deepEqual(run.lines.filter((l) => /trap|panic|FAIL/.test(l)), [], `${what}: no trap or failed wait`);
  t.ok(run.lines.some((l) => /released yes, leaked 0$/.test(l)), `${what}: the disk was torn down, no grant leaked`);
  t.ok(run.lines.includes("blk-hostile: grants in use 0"), `${what}: grants in use 0`);
  t.equal(run.g.dom0.activeGrantMappings(), 0, `${what}: no mapping left in dom0`);
}

test("blkfront sim: hostile backend fuzz, 60 seeds: every violation breaks the disk, nothing traps or leaks", async (t) => {
  const reasons = new Map<string, number>();
  let broken = 0;
  let stalled = 0;
  for (let seed = 1; seed <= 60; seed++) {
    const spec: DiskSpec = {
      flush: seed % 2 === 0, discard: seed % 3 === 0, indirect: seed % 4 === 0 ? 128 : 0, maxRingPageOrder: seed % 4,
      persistent: seed % 2 === 1, seed, hostile: { seed: seed * 31, rate: 0.03 },
    };
    const h = await hostile(`seed=${seed} ops=400`, spec);
    survivedCleanly(t, h, `seed ${seed}`);
    if (h.run.lines.some((l) => / still has requests in flight after 60 s \([1-9]\d* reported slow\)$/.test(l))) stalled++;
    if (h.broken === null) continue;
    broken++;
    const kind = [/not in flight/, /operation \d+ to a request/, /status -?\d+/, /producer ran ahead/]
      .find((re) => re.test(h.broken!))?.source ?? `other: ${h.broken}`;
    reasons.set(kind, (reasons.get(kind) ?? 0) + 1);
  }
  t.comment(`broken in ${broken} of 60 runs: ${[...reasons].map(([k, n]) => `${k} x${n}`).join(", ")}; ${stalled} runs with unanswered requests reported slow`);
  t.ok(broken >= 45, `most runs met a violation and broke the disk (${broken})`);
  t.equal(reasons.size, 4, "each kind of violation was detected: unknown/stale/duplicate id, wrong operation, bad status, producer jump");
  t.ok(stalled > 0, "requests never answered were reported slow, not taken for a violation");
});

test("blkfront sim: each hostile kind on its own breaks the disk with its own reason (an unanswered request is reported slow instead)", async (t) => {
  const expect: Record<string, RegExp> = {
    "bad-id": /not in flight/, "stale-id": /not in flight/, "duplicate": /not in flight|producer ran ahead/,
    "wrong-op": /operation \d+ to a request/, "bad-status": /status -?\d+/, "producer-jump": /producer ran ahead/,
  };
  for (const kind of HOSTILE_KINDS) {
    const h = await hostile("seed=3 ops=400", { flush: true, indirect: 64, hostile: { seed: 9, rate: 0.2, kinds: [kind] } });
    survivedCleanly(t, h, kind);
    if (kind === "drop") {
      // Slow is not broken: an unanswered request is reported, and waited for until the app gives up.
      t.equal(h.broken, null, "drop: the disk is not broken");
      t.ok(h.run.lines.some((l) => /^blkfront 51712: slow backend: an? \w+ at sector \d+ has been in flight for 5 s$/.test(l)), "drop: the unanswered request was reported slow");
    } else {
      t.match(h.broken ?? "not broken", expect[kind], `${kind}: ${h.broken}`);
    }
  }
});

test("blkfront sim: running out of grant references fails that disk only, and leaks nothing", async (t) => {
  // 2040 usable grant entries; each disk takes its ring (4 pages) and a 700-page pool.
  const run = await simRun(HOSTILE, "seed=4 ops=40 pool=700", [{ size: MIB, maxRingPageOrder: 2 }, { size: MIB, maxRingPageOrder: 2 }, { size: MIB, maxRingPageOrder: 2 }]);
  t.equal(run.r.reason, "poweroff");
  t.ok(run.lines.some((l) => /^blk-hostile: disk 51712 survived \d+ requests/.test(l)) && run.lines.some((l) => /^blk-hostile: disk 51728 survived \d+ requests/.test(l)), "the first two disks work");
  t.ok(run.lines.includes("blk-hostile: disk 51744 broken after 0 requests (0 errors): out of grant references for the bounce pool (700 pages)"), "the third is refused with the reason");
  t.equal(run.lines.filter((l) => /released yes, leaked 0$/.test(l)).length, 3, "all three closed without a leak");
  t.ok(run.lines.includes("blk-hostile: grants in use 0"), "grants in use 0");
  t.equal(run.g.dom0.activeGrantMappings(), 0);
});

test("blkfront sim: hostile xenstore values are refused or clamped", async (t) => {
  const fatal: [string, Record<string, string>, RegExp][] = [
    ["sectors too large", { sectors: "99999999999999999999" }, /no usable sectors key/],
    ["sectors not a number", { sectors: "-5" }, /no usable sectors key/],
    ["sectors 2^55 (a byte count of the disk would wrap)", { sectors: "36028797018963968" }, /no usable sectors key/],
    ["sector-size not a power of two", { "sector-size": "1000" }, /unusable sector-size 1000/],
    ["sector-size 256", { "sector-size": "256" }, /unusable sector-size 256/],
  ];
  for (const [what, keys, re] of fatal) {
    const h = await hostile("seed=1 ops=10", { keys });
    survivedCleanly(t, h, what);
    t.match(h.broken ?? "connected", re, `${what}: ${h.broken}`);
  }
  const clamped = await simRun(MODEL, "seed=2 ops=100", [{
    maxRingPageOrder: 40, indirect: 64, discard: true,
    keys: { "feature-max-indirect-segments": "4294967295", "discard-granularity": "3", "discard-alignment": "77", "physical-sector-size": "100" },
  }]);
  t.match(featureLine(clamped), /ring 4 pages \(128 slots, backend max order 40\)/, "ring order clamped to ours");
  t.match(featureLine(clamped), /64 segments\/request/, "indirect segments clamped to ours");
  t.match(featureLine(clamped), /discard yes \(granularity 512, alignment 0\)/, "nonsense discard parameters replaced by the defaults");
  t.doesNotMatch(featureLine(clamped), /physical/, "a physical-sector-size below sector-size is ignored");
  t.deepEqual(clamped.lines.filter((l) => /FAIL|trap|broken/.test(l)), [], "the disk works");
});
