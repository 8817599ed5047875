// Guest statistics readable from dom0: the runtime's counters (uptime,
// memory, console) and those of every device that registered a StatsSource
// (drivers do at connect) are written as decimal values under this domain's
// xenstore `data/tsxen/` (libxl makes `data/` writable by the guest), e.g.
//     /local/domain/5/data/tsxen/vif/0/rx-frames = "1234"
// so that `xenstore-ls -f /local/domain/<domid>/data/tsxen` or
// `tsxen stats <domain>` shows them in dom0. `seq` is written last, once
// per publication.
//
// Publications happen when the app asks (publishStats), at an interval it
// chooses (publishStatsEvery), or when dom0 writes data/tsxen/request
// (publishStatsOnRequest). The write rate is bounded: at most one
// publication per second (a request within the second is served when it
// ends), each writing only the counters that changed, at most MAX_COUNTERS.
// Nothing here runs on a device's hot path: sources are read only while
// publishing, and the paths are encoded once, at registration.
import * as xs from "../xenstore/client";
import { XsRequest, WatchHandler } from "../xenstore/client";
import * as XS from "./abi/xs_wire";
import { Timer, TimerHandler, setTimer, cancelTimer } from "./timers";
import { monotonicNs } from "./time";
import { startInfo } from "./start_info";
import { consoleDroppedBytes } from "./console";
import { log } from "./log";
import { walkHeap, walkedHeapBytes, walkedUsedBytes, peakUsedBytes } from "./memory";

export const STATS_DIR = "data/tsxen";
export const MIN_INTERVAL_NS: u64 = 1_000_000_000;
export const MAX_COUNTERS = 128;
// Writes kept in flight to xenstored at once.
const WINDOW = 8;
// Longest "<path>\0<value>" payload: path and u64 decimal.
const MAX_PAYLOAD = 200;

// A group of counters, e.g. one device's. Drivers extend this and register
// an instance at connect.
export abstract class StatsSource {
  // Where the counters go below data/tsxen/, e.g. "vif/0" ("" for the top).
  abstract path(): string;
  // The counters' names ("rx-frames", …), in a fixed order.
  abstract names(): string[];
  // The current values, in the order of names(). Must not allocate.
  abstract read(values: StaticArray<u64>): void;
}

const bootNs = monotonicNs();

class RuntimeStats extends StatsSource {
  path(): string { return ""; }
  names(): string[] {
    return ["uptime-ms", "memory/ram-bytes", "memory/wasm-bytes", "memory/heap-bytes", "memory/heap-used-bytes", "memory/heap-peak-used-bytes", "console/dropped-bytes"];
  }
  read(v: StaticArray<u64>): void {
    v[0] = (monotonicNs() - bootNs) / 1_000_000;
    v[1] = startInfo().ramBytes;
    v[2] = <u64>memory.size() << 16;   // the wasm memory's high-water mark
    walkHeap();                        // runtime/memory.ts: the allocator's blocks
    v[3] = walkedHeapBytes();
    v[4] = walkedUsedBytes();
    v[5] = peakUsedBytes();
    v[6] = consoleDroppedBytes();
  }
}

// A registered source: its counters' xenstore paths (UTF-8, NUL-terminated,
// ready to be a XS_WRITE payload's first part), its values now and as last
// published.
class Registered {
  paths: Array<Uint8Array> = new Array<Uint8Array>();
  values: StaticArray<u64>;
  published: StaticArray<u64>;
  constructor(public source: StatsSource) {
    const names = source.names();
    this.values = new StaticArray<u64>(names.length);
    this.published = new StaticArray<u64>(names.length);
    const dir = source.path();
    for (let i = 0; i < names.length; i++) {
      this.paths.push(encodePath(STATS_DIR + "/" + (dir.length > 0 ? dir + "/" : "") + names[i]));
      this.published[i] = u64.MAX_VALUE; // never published
    }
  }
}

function encodePath(path: string): Uint8Array {
  const len = String.UTF8.byteLength(path, true);
  const out = new Uint8Array(len);
  String.UTF8.encodeUnsafe(changetype<usize>(path), path.length, out.dataStart, true);
  return out;
}

const sources = new Array<Registered>();
let counters = 0;
let lastPublishNs: u64 = 0;
let published: u64 = 0;          // publications so far (data/tsxen/seq)
let failedWrites: u64 = 0;
let reportedFailure = false;
const payload = new Uint8Array(MAX_PAYLOAD);
// payload.subarray(0, n) for each length n, made once: a publication
// allocates nothing of its own (the xenstore client allocates per request).
const views = new StaticArray<Uint8Array | null>(MAX_PAYLOAD + 1);

function payloadView(len: i32): Uint8Array {
  let v = views[len];
  if (v === null) {
    v = payload.subarray(0, len);
    views[len] = v;
  }
  return v;
}
const inFlight = new Array<XsRequest>();
let seqPath: Uint8Array | null = null;

// Registers a source; false (and a log line) once MAX_COUNTERS are taken.
export function registerStats(source: StatsSource): bool {
  if (sources.length == 0) sources.push(new Registered(new RuntimeStats()));
  const r = new Registered(source);
  if (counters + r.values.length > MAX_COUNTERS) {
    log("stats: " + source.path() + " not published: more than " + MAX_COUNTERS.toString() + " counters");
    return false;
  }
  counters += r.values.length;
  sources.push(r);
  return true;
}

// Writes u64 `v` in decimal at `at`; returns the length.
function putDecimal(at: usize, v: u64): i32 {
  let n = 0;
  do { store<u8>(at + <usize>n, <u8>(48 + v % 10)); v /= 10; n++; } while (v != 0);
  for (let i = 0, j = n - 1; i < j; i++, j--) {
    const c = load<u8>(at + <usize>i);
    store<u8>(at + <usize>i, load<u8>(at + <usize>j));
    store<u8>(at + <usize>j, c);
  }
  return n;
}

function settle(max: i32): void {
  while (inFlight.length > max) {
    const r = xs.wait(inFlight.shift());
    const error = r.error;
    if (error !== null) {
      failedWrites++;
      if (!reportedFailure) { reportedFailure = true; log("stats: xenstore write failed: " + error); }
    }
  }
}

function write(path: Uint8Array, value: u64): void {
  if (path.length + 20 > MAX_PAYLOAD) return;
  memory.copy(payload.dataStart, path.dataStart, path.length);
  const len = path.length + putDecimal(payload.dataStart + <usize>path.length, value);
  inFlight.push(xs.send(XS.XS_WRITE, payloadView(len)));
  settle(WINDOW - 1);
}

function publishNow(): void {
  if (sources.length == 0) sources.push(new Registered(new RuntimeStats()));
  if (seqPath === null) seqPath = encodePath(STATS_DIR + "/seq");
  for (let s = 0; s < sources.length; s++) {
    const r = sources[s];
    r.source.read(r.values);
    for (let i = 0; i < r.values.length; i++) {
      const v = r.values[i];
      if (v == r.published[i]) continue;
      write(r.paths[i], v);
      r.published[i] = v;
    }
  }
  write(<Uint8Array>seqPath, ++published);
  settle(0);
  lastPublishNs = monotonicNs(); // the next one starts a second after this one ended
}

class Deferred extends TimerHandler {
  onTimer(t: Timer): void {
    pending = null;
    publishNow();
  }
}

let pending: Timer | null = null;

// Publishes the counters now, or, if the last publication ended less than
// a second ago, when that second is over.
export function publishStats(): void {
  if (pending !== null) return;
  const now = monotonicNs();
  if (published > 0 && now - lastPublishNs < MIN_INTERVAL_NS) {
    pending = setTimer(lastPublishNs + MIN_INTERVAL_NS - now, new Deferred());
    return;
  }
  publishNow();
}

class Periodic extends TimerHandler {
  onTimer(t: Timer): void {
    periodic = null;
    publishStats();
    if (intervalNs > 0) periodic = setTimer(intervalNs, this);
  }
}

let periodic: Timer | null = null;
let intervalNs: u64 = 0;

// Publishes now and then every `intervalMs` (at least 1000; 0 stops). Like
// any timer, this keeps the event loop (and so the guest) running.
export function publishStatsEvery(intervalMs: u32): void {
  const p = periodic;
  if (p !== null) cancelTimer(p);
  periodic = null;
  intervalNs = intervalMs == 0 ? 0 : <u64>intervalMs * 1_000_000;
  if (intervalNs == 0) return;
  if (intervalNs < MIN_INTERVAL_NS) intervalNs = MIN_INTERVAL_NS;
  publishStats();
  periodic = setTimer(intervalNs, new Periodic());
}

class Request extends WatchHandler {
  onWatch(path: string, token: string): void {
    publishStats();
  }
}

let watching = false;

// Publishes whenever dom0 writes data/tsxen/request (`tsxen stats` does),
// and once now. The watch does not keep the guest running.
export function publishStatsOnRequest(): void {
  if (watching) return;
  watching = true;
  xs.watchAsync(STATS_DIR + "/request", "tsxen-stats-request", new Request());
}

// Publications so far, and xenstore writes that failed.
export function statsPublished(): u64 { return published; }
export function statsFailedWrites(): u64 { return failedWrites; }
