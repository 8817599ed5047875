// Guest statistics in xenstore (runtime/stats.ts) against the sim's
// xenstored, with examples/stats serving UDP on a sim vif and writing to a
// sim disk: the counters dom0 reads match the traffic, a publication
// happens when dom0 asks and at the app's interval, never more than once a
// second, and writes only what changed. Also `tsxen stats`'s reading and
// formatting (tools/stats.ts) over the same store.
import test from "tape";
import { SimGuest } from "../../sim/host.ts";
import { addVif } from "../../sim/netback.ts";
import { NetPeer, udpFrame } from "../../sim/netswitch.ts";
import { SimBlkback } from "../../sim/blkback.ts";
import { formatStats, parseXenstoreLs, readStats, type StatsStore } from "../../tools/stats.ts";
import { startedGuest, willBuild } from "./helpers.ts";

// The apps these tests build, compiled ahead of time (tests/sim/helpers.ts).
willBuild("examples/stats/main.ts");

const APP = "examples/stats/main.ts";
const DIR = "/local/domain/1/data/tsxen";
const MS = 1_000_000n;

// dom0's view of the sim's xenstore, as `tsxen stats` reads it.
function simStore(g: SimGuest): StatsStore {
  const list = (p: string): [string, string][] =>
    g.xenstore.directory(p).flatMap((c) => [[`${p}/${c}`, g.xenstore.read(`${p}/${c}`)] as [string, string], ...list(`${p}/${c}`)]);
  return {
    read: (p) => (g.xenstore.exists(p) ? g.xenstore.read(p) : null),
    write: (p, v) => g.xenstore.write(p, v),
    list: (p) => (g.xenstore.exists(p) ? list(p) : []),
    domains: () => g.xenstore.directory("/local/domain"),
  };
}

interface Run {
  g: SimGuest;
  peer: NetPeer;
  console: string[];
  publications: bigint[];   // virtual times at which seq changed
  writes: string[][];       // per publication: the keys written (below data/tsxen)
  snapshots: Map<string, string>[];
}

// examples/stats with one vif (a peer that sends `datagrams` UDP datagrams
// of 100 bytes to port 7) and one 2 MiB disk. `actions` run in dom0 at
// virtual times (ms after boot); the guest is shut down at `endMs`.
async function run(cmdline: string, actions: [number, (g: SimGuest, r: Run) => void][], endMs: number, datagrams = 0): Promise<Run> {
  const g = await startedGuest(APP, { cmdline });
  const vif = addVif(g, { devid: 0, ip: "10.0.0.2" });
  const peer = new NetPeer(g.dom0, vif, { mac: "00:16:3e:ee:00:00", ip: "10.0.0.1" });
  new SimBlkback(g, { devid: 51712, disk: new Uint8Array(2 << 20) });
  const r: Run = { g, peer, console: [], publications: [], writes: [], snapshots: [] };
  let current: string[] = [];
  g.xenstore.watch(DIR, "test", (path) => {
    if (!path.startsWith(DIR + "/") || !g.xenstore.exists(path)) return;
    const key = path.slice(DIR.length + 1);
    if (key === "request") return;
    current.push(key);
    if (key === "seq") {
      r.publications.push(g.clock.now());
      r.writes.push(current);
      current = [];
    }
  });
  for (let i = 0; i < datagrams; i++) {
    g.dom0.after(BigInt(200 + i) * MS, () => peer.send(udpFrame(peer.me, { mac: vif.mac, ip: "10.0.0.2" }, 5000, 7, new Uint8Array(100).fill(i))));
  }
  for (const [ms, fn] of actions) g.dom0.after(BigInt(ms) * MS, () => fn(g, r));
  g.dom0.after(BigInt(endMs) * MS, () => g.xenstore.write("/local/domain/1/control/shutdown", "poweroff"));
  const res = await g.run();
  r.console = res.console.split("\n");
  return r;
}

const snapshot = (g: SimGuest, r: Run) => r.snapshots.push(new Map(simStore(g).list(DIR).map(([p, v]) => [p.slice(DIR.length + 1), v])));
const request = (g: SimGuest) => g.xenstore.write(`${DIR}/request`, "1");
const since = (r: Run, i: number) => Number((r.publications[i] - r.publications[0]) / MS);

test("stats: dom0 asks, the guest publishes counters that match its traffic", async (t) => {
  const r = await run("", [[1000, request], [1500, snapshot]], 2000, 20);
  t.ok(r.console.includes("stats: ready, publishing on request"), "the app is up");
  t.ok(r.console.includes("stats: disk 51712: 1 MiB written and read back"));
  t.deepEqual(r.console.filter((l) => /trap|panic|failed/.test(l)), [], "no fault, no failed write");
  t.equal(r.publications.length, 2, "one publication when the watch was set, one for the request");
  const s = r.snapshots[0];
  t.equal(s.get("seq"), "2");
  t.equal(s.get("memory/ram-bytes"), String(32 << 20));
  t.ok(Number(s.get("memory/wasm-bytes")) > 4 << 20, `memory/wasm-bytes ${s.get("memory/wasm-bytes")}`);
  const heap = Number(s.get("memory/heap-bytes")), used = Number(s.get("memory/heap-used-bytes")), peak = Number(s.get("memory/heap-peak-used-bytes"));
  t.ok(heap > 0 && used > 0 && used <= heap && peak >= used, `the heap: ${heap} bytes, ${used} in use, peak ${peak}`);
  const uptime = Number(s.get("uptime-ms"));
  t.ok(uptime >= 1000 && uptime < 1500, `uptime-ms ${uptime}: when dom0 asked, 1 s after boot`);
  // The peer sent 20 datagrams and answered the guest's ARP requests; the
  // guest sent 20 echoes and its ARP requests (42-byte frames).
  const arp = r.peer.sent - 20;
  t.equal(s.get("vif/0/rx-frames"), String(r.peer.sent), `every frame the peer sent: 20 datagrams and ${arp} ARP replies`);
  t.equal(s.get("vif/0/tx-frames"), String(r.peer.received.length), "every frame the peer received");
  t.equal(Number(s.get("vif/0/rx-bytes")), 20 * (14 + 20 + 8 + 100) + 42 * arp, "bytes of those frames");
  t.equal(Number(s.get("vif/0/tx-bytes")), 20 * (14 + 20 + 8 + 100) + 42 * (r.peer.received.length - 20), "and of the guest's");
  t.equal(s.get("vif/0/connected"), "1");
  t.equal(s.get("vif/0/connects"), "1");
  t.equal(s.get("vif/0/rx-dropped"), "0");
  t.equal(s.get("vif/0/tx-errors"), "0");
  t.equal(s.get("vif/0/broken"), "0");
  t.equal(s.get("vbd/51712/read-bytes"), String(1 << 20));
  t.equal(s.get("vbd/51712/write-bytes"), String(1 << 20));
  t.equal(s.get("vbd/51712/errors"), "0");
  t.ok(Number(s.get("vbd/51712/requests")) >= 2, `vbd requests ${s.get("vbd/51712/requests")}`);
  t.equal(s.get("console/dropped-bytes"), "0");
});

test("stats: many requests within a second make at most one publication a second, the last one served", async (t) => {
  const burst: [number, (g: SimGuest, r: Run) => void][] = Array.from({ length: 20 }, (_, i) => [1000 + 10 * i, request]);
  const r = await run("", [...burst, [4000, snapshot]], 4500);
  t.equal(r.publications.length, 3, "the watch's own, the first request's, one for the other 19");
  for (let i = 1; i < r.publications.length; i++) t.ok(since(r, i) - since(r, i - 1) >= 1000, `publication ${i + 1} ${since(r, i)} ms after the first`);
  t.ok(since(r, 2) - since(r, 1) <= 1010, "the deferred requests were served when the second was over");
});

test("stats: publishStatsEvery: at the app's interval, writing only what changed", async (t) => {
  const r = await run("every=2000", [[9000, snapshot]], 9500);
  t.ok(r.console.includes("stats: ready, publishing every 2000 ms"));
  t.equal(r.publications.length, 5, "at 0, 2, 4, 6 and 8 s");
  for (let i = 1; i < r.publications.length; i++) t.equal(since(r, i) - since(r, i - 1), 2000, `publication ${i + 1}: 2000 ms after the one before`);
  t.equal(r.writes[0].length, 7 + 10 + 8 + 1, "the first publication writes every counter: 7 of the runtime, 10 of the vif, 8 of the disk, and seq");
  // Publishing makes a little garbage, so the heap in use moves too.
  t.deepEqual(r.writes[3].filter((k) => !k.startsWith("memory/heap-")), ["uptime-ms", "seq"], "an idle guest's publication writes only uptime, the heap's figures and seq");
});

test("stats: an interval below a second is raised to one second", async (t) => {
  const r = await run("every=100", [], 3500);
  t.equal(r.publications.length, 4, "at 0, 1, 2 and 3 s");
  for (let i = 1; i < r.publications.length; i++) t.ok(since(r, i) - since(r, i - 1) >= 1000);
});

test("tsxen stats: reads and formats what the guest published", async (t) => {
  let text = "";
  await run("", [[1000, request], [1500, async (g) => { text = formatStats(await readStats(simStore(g), "tsxen-sim", { request: false })); }]], 2000, 3);
  const lines = text.split("\n");
  t.equal(lines[0], "domain 1 (tsxen-sim): publication 2 (not refreshed: the guest does not publish on request)", "found by name; no request made here");
  t.match(text, /\n {2}uptime-ms +\d+\n/);
  t.match(text, /\nvif\/0\n(  .*\n)*  rx-frames +\d+\n/, "vif/0's counters under its heading");
  t.notOk(/^  (vif|memory|console)\s*$/m.test(text), "directories are not listed as counters");
  t.match(text, /\nvbd\/51712\n(  .*\n)*  write-bytes +1048576\n/);
});

test("tsxen stats: xenstore-ls -f output is parsed", (t) => {
  const out = parseXenstoreLs([
    '/local/domain/3/data/tsxen/seq = "4"',
    '/local/domain/3/data/tsxen/vif/0/rx-frames = "12"',
    '/local/domain/3/data/tsxen/vif = ""',
    '/local/domain/3/data/tsxen/odd = "a \\"quoted\\" value"   (n0,r3)',
  ].join("\n"));
  t.deepEqual(out, [
    ["/local/domain/3/data/tsxen/seq", "4"],
    ["/local/domain/3/data/tsxen/vif/0/rx-frames", "12"],
    ["/local/domain/3/data/tsxen/vif", ""],
    ["/local/domain/3/data/tsxen/odd", 'a "quoted" value'],
  ]);
  t.end();
});
