// tsxen sim: runs an app (built to wasm on the fly), a .wasm module or an
// image's wasm in the simulated Xen host, with the devices and port
// forwards the command line gives, and prints its console live.
//
// The guest runs in a worker thread (sim-worker.ts); this thread owns what
// faces the host: disk files (read into shared memory, written back when
// the guest stops), the forwarded ports (UDP sockets and TCP servers on
// 127.0.0.1), signals (Ctrl-C asks the guest to power off, twice stops it),
// --timeout, and the output (--json). With --inspect the guest runs on this
// thread instead, under Node's inspector (tools/inspect.ts), in virtual time.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import dgram from "node:dgram";
import net from "node:net";
import { MessageChannel, Worker } from "node:worker_threads";
import { buildWasm, BuildError, type Runtime } from "./build.ts";
import { memoryBaseFor } from "./host-interface.ts";
import { checkWasm } from "./wasm-check.ts";
import { SimMachine } from "../sim/machine.ts";
import { debugSourceMap, entryOffset, mainOffset, missingSources, openInspector, withInlineSourceMap, type InspectOptions } from "./inspect.ts";
import { WasmSourceMap } from "./source-map.ts";
import { sourceMappingURL } from "./wasm-sections.ts";
import { exitCodeFor, LineSplitter, type GuestReason, type RunSummary } from "./outcome.ts";
import { DeviceError, type DiskSpec, type ForwardSpec, type VifSpec } from "./devices.ts";
import type { FromWorker, ToWorker, WorkerDisk, WorkerInput } from "./sim-worker.ts";

export interface SimAppOptions {
  input: string;
  runtime?: Runtime;          // for an app (.ts): AssemblyScript's runtime (build.ts)
  memoryMB?: number;
  cmdline?: string;
  vifs?: VifSpec[];
  disks?: DiskSpec[];
  forwards?: ForwardSpec[];
  expect?: string;          // a regular expression
  timeoutSec?: number;      // 0 or undefined: none
  json?: boolean;
  inspect?: InspectOptions; // run under Node's inspector (tools/inspect.ts)
  pvh?: boolean;            // boot as a PVH guest (hvm_start_info, HVM params) instead of PV
}

const SECTOR = 512;
const GRACE_MS = 10_000;   // after a shutdown request, before the guest is stopped

// The host cannot do what was asked (a port in use): exit 5, not a usage error.
export class SimSetupError extends Error {}

function openDisk(d: DiskSpec): WorkerDisk & { fileSize: number } {
  let size: number;
  try {
    size = fs.statSync(d.path).size;
  } catch {
    throw new DeviceError(`disk ${d.path}: no such file (create one, e.g. truncate -s 64M ${path.basename(d.path)})`);
  }
  const length = size - (size % SECTOR);
  if (length === 0) throw new DeviceError(`disk ${d.path}: smaller than one 512-byte sector`);
  const buffer = new SharedArrayBuffer(length);
  const fd = fs.openSync(d.path, d.readOnly ? "r" : "r+");
  try {
    for (let at = 0; at < length;) at += fs.readSync(fd, new Uint8Array(buffer, at, Math.min(length - at, 1 << 24)), 0, Math.min(length - at, 1 << 24), at);
  } finally {
    fs.closeSync(fd);
  }
  return { buffer, length, readOnly: d.readOnly, vdev: d.vdev, fileSize: size };
}

function writeBack(d: DiskSpec, disk: WorkerDisk): void {
  if (d.readOnly) return;
  const fd = fs.openSync(d.path, "r+");
  try {
    for (let at = 0; at < disk.length;) at += fs.writeSync(fd, new Uint8Array(disk.buffer, at, Math.min(disk.length - at, 1 << 24)), 0, undefined, at);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

// The source map a module names in its sourceMappingURL section, when it
// is a file beside the module (asc --sourceMap writes <module>.wasm.map).
function sourceMapBeside(wasmFile: string, wasm: Uint8Array): WasmSourceMap | undefined {
  const url = sourceMappingURL(wasm);
  if (!url || /^[a-z]+:/i.test(url)) return undefined;
  const file = path.resolve(path.dirname(wasmFile), url);
  return fs.existsSync(file) ? WasmSourceMap.parse(fs.readFileSync(file, "utf8")) : undefined;
}

interface LoadedWasm {
  wasm: Uint8Array;
  sourceMap?: WasmSourceMap;
  breakAt: number | null;   // --inspect --break: where to stop
}

// The app's wasm: built from a .ts file, read from a .wasm file, or, for an
// image `tsxen build` wrote, the very wasm the image was compiled from
// (<image>.d/app.wasm). With --inspect: unoptimised, its source map inline.
async function loadWasm(opts: SimAppOptions, workDir: string, log: (s: string) => void): Promise<LoadedWasm> {
  const inspect = opts.inspect;
  let wasm: Uint8Array;
  let sourceMap: WasmSourceMap | undefined;
  let breakAt: number | null = null;
  if (!opts.input.endsWith(".ts")) {
    const file = opts.input.endsWith(".wasm") ? opts.input : path.join(`${opts.input}.d`, "app.wasm");
    if (!fs.existsSync(opts.input)) throw new DeviceError(`${opts.input}: no such file`);
    if (!fs.existsSync(file)) throw new DeviceError(`${file}: missing (it is written by tsxen build; build ${opts.input} again)`);
    wasm = fs.readFileSync(file);
    checkWasm(wasm);
    sourceMap = sourceMapBeside(file, wasm);
    if (inspect && sourceMap) wasm = withInlineSourceMap(wasm, { ...sourceMap.raw, sourceRoot: "" });
    if (inspect?.breakAtMain) {
      breakAt = mainOffset(wasm, null);
      if (breakAt === null && (breakAt = entryOffset(wasm)) !== null) log("tsxen sim: main() is not a function of its own in this (optimised) module; --break stops at tsxen_main, which calls it");
    }
  } else {
    // the memory base tsxen build would give a guest of this size
    ({ wasm, sourceMap } = await buildWasm(opts.input, workDir, memoryBaseFor(opts.memoryMB ?? 32), log, inspect !== undefined, opts.runtime));
    if (inspect) {
      const map = debugSourceMap(sourceMap.raw, workDir);
      for (const missing of missingSources(map)) log(`tsxen sim: warning: source ${missing} not found`);
      wasm = withInlineSourceMap(wasm, map);
      breakAt = inspect.breakAtMain ? mainOffset(wasm, opts.input) : null;
    }
  }
  if (inspect?.breakAtMain && breakAt === null) throw new BuildError("--break: the module has no function named main or tsxen_main (a .wasm needs its name section: asc --debug)");
  return { wasm, sourceMap, breakAt };
}

// Host ports: listens on 127.0.0.1 and relays to the worker's gateway.
export class HostPorts {
  private readonly udp: dgram.Socket[] = [];
  private readonly servers: net.Server[] = [];
  private readonly conns = new Map<number, net.Socket>();
  private nextConn = 1;

  constructor(private readonly forwards: ForwardSpec[], private readonly send: (m: ToWorker) => void) {}

  async open(): Promise<void> {
    for (const [i, f] of this.forwards.entries()) {
      if (f.proto === "udp") {
        const s = dgram.createSocket("udp4");
        s.on("message", (data, from) => this.send({ type: "udp", forward: i, client: `${from.address}:${from.port}`, data }));
        await listen(s, f, (cb) => s.bind(f.hostPort, "127.0.0.1", cb));
        this.udp[i] = s;
      } else {
        // allowHalfOpen: a client's FIN goes to the guest, and the client
        // still gets what the guest sends until the guest closes too.
        const server = net.createServer({ allowHalfOpen: true }, (socket) => this.accept(i, socket));
        await listen(server, f, (cb) => server.listen(f.hostPort, "127.0.0.1", cb));
        this.servers.push(server);
      }
    }
  }

  private accept(forward: number, socket: net.Socket): void {
    const conn = this.nextConn++;
    this.conns.set(conn, socket);
    this.send({ type: "tcp-open", conn, forward });
    socket.on("data", (data) => this.send({ type: "tcp-data", conn, data }));
    socket.on("end", () => this.send({ type: "tcp-close", conn, abort: false }));
    socket.on("error", () => undefined);
    socket.on("close", (hadError) => {
      if (this.conns.delete(conn) && hadError) this.send({ type: "tcp-close", conn, abort: true });
    });
  }

  fromWorker(m: FromWorker): void {
    if (m.type === "udp") {
      const [address, port] = [m.client.slice(0, m.client.lastIndexOf(":")), Number(m.client.slice(m.client.lastIndexOf(":") + 1))];
      this.udp[m.forward]?.send(m.data, port, address);
    } else if (m.type === "tcp-data") {
      this.conns.get(m.conn)?.write(m.data);
    } else if (m.type === "tcp-end") {
      const s = this.conns.get(m.conn);
      if (s && m.error === null) s.end();
      else if (s) s.destroy();
    }
  }

  close(): void {
    for (const s of this.udp) s?.close();
    for (const s of this.servers) s.close();
    for (const s of this.conns.values()) s.destroy();
  }
}

function listen(emitter: dgram.Socket | net.Server, f: ForwardSpec, start: (cb: () => void) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    emitter.once("error", (e: NodeJS.ErrnoException) =>
      reject(new SimSetupError(`cannot listen on 127.0.0.1 ${f.proto.toUpperCase()} port ${f.hostPort}: ${e.code === "EADDRINUSE" ? "in use" : e.message}`)));
    start(() => resolve());
  });
}

export async function simApp(opts: SimAppOptions): Promise<number> {
  const t0 = Date.now();
  const json = opts.json ?? false;
  // With --json, stdout carries only the summary: the console goes to stderr.
  const consoleOut = json ? process.stderr : process.stdout;
  const say = (s: string): void => void process.stderr.write(`tsxen sim: ${s}\n`);
  const vifs = opts.vifs ?? [];
  const diskSpecs = opts.disks ?? [];
  const forwards = opts.forwards ?? [];
  const realTime = forwards.length > 0;
  const lines: string[] = [];
  let expectLine: string | null = null;

  const finish = (reason: GuestReason, error?: string, timings: Record<string, number> = {}): number => {
    const expect = opts.expect === undefined ? null : { pattern: opts.expect, matched: expectLine !== null, line: expectLine };
    const exitCode = exitCodeFor(reason, expect);
    if (json) {
      const summary: RunSummary = { command: "sim", target: opts.input, reason, exitCode, expect, console: lines, timings: { ...timings, totalMs: Date.now() - t0 }, ...(error ? { error } : {}) };
      process.stdout.write(JSON.stringify(summary, null, 2) + "\n");
    }
    return exitCode;
  };

  if (opts.inspect && forwards.length) throw new DeviceError("--inspect runs the guest on tsxen's own thread, in virtual time: it does not go with --forward");
  if (opts.inspect && opts.timeoutSec) throw new DeviceError("--inspect does not go with --timeout (the debugger decides when the guest runs)");
  let loaded: LoadedWasm;
  let disks: ReturnType<typeof openDisk>[];
  const hostPorts = new HostPorts(forwards, (m) => send(m));
  const channel = new MessageChannel();
  const signal = new SharedArrayBuffer(4);
  const send = (m: ToWorker): void => {
    channel.port1.postMessage(m);
    Atomics.add(new Int32Array(signal), 0, 1);
    Atomics.notify(new Int32Array(signal), 0);
  };
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), "tsxen-sim-"));
  try {
    loaded = await loadWasm(opts, workDir, (s) => process.stderr.write(s + "\n"));
    disks = diskSpecs.map(openDisk);
    await hostPorts.open();
  } catch (e) {
    hostPorts.close();
    channel.port1.close();
    if (e instanceof SimSetupError) {
      say(e.message);
      return finish("host-failure", e.message);
    }
    throw e;
  } finally {
    // --inspect's source map names the generated entry in the work dir: it stays while the debugger may look
    if (!opts.inspect) fs.rmSync(workDir, { recursive: true, force: true });
  }
  const wasm = loaded.wasm;
  const buildMs = Date.now() - t0;
  for (const [i, d] of disks.entries()) {
    if (d.fileSize !== d.length) say(`${diskSpecs[i].path}: ${d.fileSize % SECTOR} bytes past the last whole sector are not part of the disk`);
  }
  const guestIp = vifs[0]?.ip;
  for (const f of forwards) say(`forwarding 127.0.0.1 ${f.proto.toUpperCase()} port ${f.hostPort} to the guest's ${guestIp}:${f.guestPort}`);
  if (realTime) say("running in real time (host ports forwarded); Ctrl-C asks the guest to power off");
  if (opts.inspect) {
    channel.port1.close();
    const r = await runInspected(opts, loaded, vifs, diskSpecs.map((d, i) => ({ data: new Uint8Array(disks[i].buffer, 0, disks[i].length), readOnly: d.readOnly, vdev: d.vdev })),
      consoleOut, (line) => lines.push(line), (line) => (expectLine = line));
    fs.rmSync(workDir, { recursive: true, force: true });
    for (const [i, d] of disks.entries()) writeBack(diskSpecs[i], d);
    say(`guest shut down: ${r}`);
    return finish(r as GuestReason, undefined, { buildMs });
  }

  const input: WorkerInput = {
    wasm, memoryMB: opts.memoryMB, cmdline: opts.cmdline, mode: opts.pvh ? "pvh" : "pv", name: path.basename(opts.input).replace(/\.[^.]*$/, ""),
    vifs, disks: disks.map(({ buffer, length, readOnly, vdev }) => ({ buffer, length, readOnly, vdev })),
    forwards: forwards.map((f) => ({ proto: f.proto, guestIp: guestIp!, guestPort: f.guestPort })),
    expect: opts.expect ?? null, realTime, port: channel.port2, signal,
    sourceMap: loaded.sourceMap ? JSON.stringify(loaded.sourceMap.raw) : null,
  };
  const worker = new Worker(new URL("./sim-worker.mjs", import.meta.url), { workerData: input, transferList: [channel.port2] });
  const out = new LineSplitter((line) => lines.push(line));
  let stopTimer: NodeJS.Timeout | undefined;
  // Asks the guest to stop: destroy ends it at once (after a grace period
  // for a guest that never blocks, the worker is terminated).
  const destroy = (reason: "timeout" | "destroyed"): void => {
    send({ type: "destroy", reason });
    stopTimer ??= setTimeout(() => void worker.terminate(), 2000);
  };
  let interrupts = 0;
  const onSignal = (): void => {
    if (interrupts++ === 0) {
      say("asking the guest to power off (again to stop it at once)");
      send({ type: "shutdown", reason: "poweroff" });
      setTimeout(() => destroy("destroyed"), GRACE_MS).unref();
    } else {
      destroy("destroyed");
    }
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  const timeout = opts.timeoutSec ? setTimeout(() => {
    say(`timeout: the guest still ran after ${opts.timeoutSec} s`);
    destroy("timeout");
  }, opts.timeoutSec * 1000) : undefined;

  const result = await new Promise<{ reason: string; error?: string }>((resolve) => {
    worker.on("message", (m: FromWorker) => {
      switch (m.type) {
        case "console":
          consoleOut.write(m.bytes);
          out.push(m.bytes);
          break;
        case "expect-matched":
          expectLine = m.line;
          say(`saw the expected line; asking the guest to power off`);
          setTimeout(() => destroy("destroyed"), GRACE_MS).unref();
          break;
        case "done":
          resolve(m);
          break;
        default:
          hostPorts.fromWorker(m);
      }
    });
    worker.on("error", (e) => resolve({ reason: "host-failure", error: e.stack ?? e.message }));
    worker.on("exit", () => resolve({ reason: "destroyed" }));
  });
  out.flush();
  clearTimeout(timeout);
  clearTimeout(stopTimer);
  process.off("SIGINT", onSignal);
  process.off("SIGTERM", onSignal);
  hostPorts.close();
  channel.port1.close();
  await worker.terminate();
  for (const [i, d] of disks.entries()) writeBack(diskSpecs[i], d);

  const reason = result.reason as GuestReason;
  if (result.reason === "blocked") {
    say("the guest waits for an event nothing in the sim will send (no timer, no traffic). With --forward the sim runs in real time and the host can talk to it.");
  } else if (result.error) {
    say(result.error);
  }
  say(result.reason === "destroyed" || result.reason === "timeout" ? "the guest was stopped" : `guest shut down: ${result.reason}`);
  return finish(reason, result.error, { buildMs, runMs: Date.now() - t0 - buildMs });
}

// --inspect: the guest (with its vifs and disks) on this thread, in virtual
// time, under Node's inspector; --expect still asks it to power off.
async function runInspected(
  opts: SimAppOptions, loaded: LoadedWasm, vifs: VifSpec[], disks: { data: Uint8Array; readOnly: boolean; vdev: string }[],
  consoleOut: NodeJS.WriteStream, onLine: (line: string) => void, onExpect: (line: string) => void,
): Promise<string> {
  const expect = opts.expect === undefined ? null : new RegExp(opts.expect);
  let machine: SimMachine | null = null;
  const lines = new LineSplitter((line) => {
    onLine(line);
    if (expect && machine && expect.test(line)) {
      onExpect(line);
      machine.guest.xenstore.write("/local/domain/1/control/shutdown", "poweroff");
    }
  });
  machine = new SimMachine({
    memoryMB: opts.memoryMB, cmdline: opts.cmdline, mode: opts.pvh ? "pvh" : "pv", sourceMap: loaded.sourceMap, vifs, disks,
    onConsole: (b) => {
      consoleOut.write(b);
      lines.push(b);
    },
  });
  await machine.start(loaded.wasm);
  const session = openInspector(opts.inspect!, loaded.breakAt, loaded.wasm.length, (s) => console.error(s));
  try {
    return (await machine.run()).reason;
  } finally {
    lines.flush();
    session.close();
  }
}
