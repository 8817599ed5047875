// The guest side of `tsxen sim` (a worker thread, started by tools/sim.ts
// through sim-worker.mjs): runs the app in sim/machine.ts with its devices.
// The guest's hypercalls run synchronously on this thread, so the host side
// (sockets, signals, the clock on the wall) lives on the main thread:
//  - main -> here: messages on `port` (read with receiveMessageOnPort while
//    the guest is blocked), each followed by a bump of `signal[0]` that
//    wakes our Atomics.wait;
//  - here -> main: parentPort.postMessage (console bytes, datagrams and
//    TCP bytes for host clients, the result).
// With forwards the sim runs in real time (a blocked guest waits for the
// outside world); without, in virtual time (sleeps are instant).
import { parentPort, receiveMessageOnPort, workerData, type MessagePort } from "node:worker_threads";
import { SimMachine } from "../sim/machine.ts";
import { GuestBlockedForever, type Outside } from "../sim/hypervisor.ts";
import type { GatewayForward } from "../sim/gateway.ts";
import { LineSplitter } from "./outcome.ts";
import { WasmSourceMap } from "./source-map.ts";

export interface WorkerDisk {
  buffer: SharedArrayBuffer;
  length: number;           // bytes the guest sees (a multiple of 512)
  readOnly: boolean;
  vdev: string;
}

export interface WorkerInput {
  wasm: Uint8Array;
  memoryMB?: number;
  cmdline?: string;
  mode: "pv" | "pvh";       // how the guest boots (sim/host.ts)
  name: string;
  vifs: { ip: string; mac: string; mtu?: number }[];
  disks: WorkerDisk[];
  forwards: GatewayForward[];
  expect: string | null;    // a RegExp source: on the first console line it matches, the guest is asked to power off
  realTime: boolean;
  sourceMap: string | null; // asc's source map (JSON), for backtraces with source lines
  port: MessagePort;
  signal: SharedArrayBuffer;   // Int32Array(1)
}

export type ToWorker =
  | { type: "udp"; forward: number; client: string; data: Uint8Array }
  | { type: "tcp-open"; conn: number; forward: number }
  | { type: "tcp-data"; conn: number; data: Uint8Array }
  | { type: "tcp-close"; conn: number; abort: boolean }
  | { type: "shutdown"; reason: "poweroff" | "reboot" }
  | { type: "destroy"; reason: "timeout" | "destroyed" };

export type FromWorker =
  | { type: "console"; bytes: Uint8Array }
  | { type: "expect-matched"; line: string }
  | { type: "udp"; forward: number; client: string; data: Uint8Array }
  | { type: "tcp-data"; conn: number; data: Uint8Array }
  | { type: "tcp-end"; conn: number; error: string | null }
  | { type: "done"; reason: string; error?: string };

class Destroyed extends Error {
  constructor(readonly reason: "timeout" | "destroyed") {
    super(reason);
  }
}

const input = workerData as WorkerInput;
const post = (m: FromWorker): void => parentPort!.postMessage(m);
const signal = new Int32Array(input.signal);
const START_NS = 1_000_000_000n;
const t0 = performance.now();
const realNow = (): bigint => START_NS + BigInt(Math.round((performance.now() - t0) * 1e6));

let machine: SimMachine;

function requestShutdown(reason: string): void {
  machine.guest.xenstore.write("/local/domain/1/control/shutdown", reason);   // what `xl shutdown` writes
}

// Runs every message main has sent; true if there was one.
function drain(): boolean {
  let any = false;
  for (let m = receiveMessageOnPort(input.port); m; m = receiveMessageOnPort(input.port)) {
    any = true;
    const msg = m.message as ToWorker;
    const gw = machine.gateway;
    switch (msg.type) {
      case "udp": gw?.udpFromClient(msg.forward, msg.client, msg.data); break;
      case "tcp-open": gw?.tcpOpen(msg.conn, msg.forward); break;
      case "tcp-data": gw?.tcpFromClient(msg.conn, msg.data); break;
      case "tcp-close": gw?.tcpClientClosed(msg.conn, msg.abort); break;
      case "shutdown": requestShutdown(msg.reason); break;
      case "destroy": throw new Destroyed(msg.reason);
    }
  }
  return any;
}

const outside: Outside = {
  wait(next) {
    if (!input.realTime) return drain() ? machine.guest.clock.now() : null;
    for (;;) {
      const seen = Atomics.load(signal, 0);
      const now = realNow();
      const clamp = (t: bigint): bigint => (next !== null && t > next ? next : t);
      if (drain()) return clamp(now > machine.guest.clock.now() ? now : machine.guest.clock.now());
      if (next !== null && now >= next) return next;
      const ms = next === null ? undefined : Math.max(0.001, Number(next - now) / 1e6);
      Atomics.wait(signal, 0, seen, ms);
    }
  },
};

const expect = input.expect === null ? null : new RegExp(input.expect);
let matched = false;
const lines = new LineSplitter((line) => {
  if (matched || !expect?.test(line)) return;
  matched = true;
  post({ type: "expect-matched", line });
  requestShutdown("poweroff");
});

machine = new SimMachine({
  memoryMB: input.memoryMB,
  cmdline: input.cmdline,
  mode: input.mode,
  name: input.name,
  vifs: input.vifs,
  disks: input.disks.map((d) => ({ data: new Uint8Array(d.buffer, 0, d.length), readOnly: d.readOnly, vdev: d.vdev })),
  forwards: input.forwards,
  gatewayHost: {
    udpToClient: (forward, client, data) => post({ type: "udp", forward, client, data }),
    tcpToClient: (conn, data) => post({ type: "tcp-data", conn, data }),
    tcpEnded: (conn, error) => post({ type: "tcp-end", conn, error }),
  },
  outside,
  sourceMap: input.sourceMap === null ? undefined : WasmSourceMap.parse(input.sourceMap),
  followClock: input.realTime ? realNow : undefined,
  maxHypercalls: input.realTime ? Number.MAX_SAFE_INTEGER : undefined,
  onConsole: (bytes) => {
    post({ type: "console", bytes });
    lines.push(bytes);
  },
});

try {
  await machine.start(input.wasm);
  const result = await machine.run();
  post({ type: "done", reason: result.reason });
} catch (e) {
  if (e instanceof Destroyed) post({ type: "done", reason: e.reason });
  else if (e instanceof GuestBlockedForever) post({ type: "done", reason: "blocked", error: e.message });
  else post({ type: "done", reason: "host-failure", error: e instanceof Error ? e.stack ?? e.message : String(e) });
}
