// The simulated Xen host: runs a tsxen wasm module in Node with the same
// `xen.*` imports (tools/host-interface.ts) and the same bytes in memory as
// under Xen, booted as a PV or a PVH guest (SimOptions.mode). This file is
// the domain builder and toolstack — PV: start_info as xen.h lays it out and
// a p2m list with pfn != mfn; PVH: hvm_start_info with its command line and
// memory map, and the HVM parameters naming the rings — plus what the
// native boot code does before wasm runs (PVH: the rings seen at their
// window pages, shared_info placed), and the console and xenstore channels
// bound to dom0's xenconsoled and xenstored; hypercalls go to the simulated
// hypervisor (hypervisor.ts), which decodes them from wasm memory the way
// Xen decodes them from guest memory.
//
// What the sim cannot reproduce: page 0 is readable (wasm has no unmapped
// pages), and traps are V8's, reported with the native runtime's wording and
// the same named backtrace (sim/backtrace.ts), with source lines when the
// module's source map is given.
import * as XEN from "../runtime/abi/xen.ts";
import * as SI from "../runtime/abi/start_info.ts";
import * as HSI from "../runtime/abi/hvm_start_info.ts";
import * as HVM from "../runtime/abi/hvm.ts";
import * as G from "../runtime/abi/grant_table.ts";
import * as CONS from "../runtime/abi/console.ts";
import { ENTRY_EXPORT, START_EXPORT, HOSTOP_MEMORY_GROW, HOSTOP_MEMORY_LIMIT, HOSTOP_BOOT_TSC, HOSTOP_SUSPEND, memoryBaseFor } from "../tools/host-interface.ts";
import { OUT_OF_MEMORY } from "../tools/symbols.ts";
import { ConsoleBackend } from "./console-backend.ts";
import { GUEST_DOMID, Hypervisor, Shutdown, type Dom0, type Outside, type ShutdownReason } from "./hypervisor.ts";
import type { VirtualClock } from "./clock.ts";
import { XenStored } from "./xenstored.ts";
import * as L from "./layout.ts";
import { Symbolizer, withStackTraceLimit } from "./backtrace.ts";
import { WasmSourceMap } from "../tools/source-map.ts";
import { withMemoryMax } from "../tools/wasm-sections.ts";
import { backtraceLines, trapReason, type Frame } from "../tools/symbols.ts";

export type { ShutdownReason } from "./hypervisor.ts";


export interface SimOptions {
  mode?: L.BootMode;          // boot as type = "pv" (default) or "pvh"
  memoryMB?: number;          // reported in start_info.nr_pages / the PVH memory map (default 32)
  cmdline?: string;           // start_info.cmd_line (xl `extra=`)
  initialDomain?: boolean;    // behave as dom0: no console ring, console_io
  consoleEvtchn?: number;     // the guest's console port (start_info)
  storeEvtchn?: number;       // the guest's xenstore port (start_info)
  name?: string;              // the domain's name in xenstore (default "tsxen-sim")
  // Lets a test corrupt start_info (PVH: hvm_start_info) before the guest reads it.
  editStartInfo?: (view: DataView, address: number) => void;
  stallConsole?: boolean;     // the console backend never reads
  maxHypercalls?: number;     // a guest that loops on hypercalls is stopped (default 10 million)
  startTimeNs?: bigint;       // virtual system time at boot (default 1 s)
  rdtscStepNs?: bigint;       // virtual time each rdtsc costs (default 1 µs)
  wallClockNs?: bigint;       // Unix time at boot, in ns (default: now)
  maxGrantFrames?: number;    // GNTTABOP_query_size's max_nr_frames (default 32)
  maxBlockNs?: bigint;        // a block with no timeout that lasts longer fails (default 1 h virtual)
  // xenstored serves the guest's ring this long after each notification
  // (virtual time), as the real daemon does in its own time; 0 (default):
  // at once, inside the notifying hypercall.
  xenstoreLatencyNs?: bigint;
  sourceMap?: WasmSourceMap;  // asc's source map of the module: lines in backtraces
  onConsole?: (bytes: Uint8Array) => void;  // the console as it is written (SimResult.console has it all)
  outside?: Outside;          // the world outside the sim (hypervisor.ts)
  followClock?: () => bigint; // real time as system time (clock.ts `follow`)
  // The CPU's RDRAND as the guest sees it: values from a generator seeded
  // with this number (default 1: runs are reproducible), or false: no
  // RDRAND (the runtime falls back to timing jitter).
  rdrand?: number | false;
  // The toolstack's answer when the guest suspends itself (HOSTOP_SUSPEND,
  // after acknowledging control/shutdown = "suspend"): "restore" (xl
  // restore, xl migrate: the guest goes on in a new domain, restoreInNewDomain),
  // "cancel" (xl save -c: it carries on in the same domain) or "stay" (xl
  // save: it stays suspended and run() returns "suspend"). Default "stay".
  onSuspend?: (guest: SimGuest) => SuspendAnswer;
  // How far behind the new domain's system time is (the new host booted later).
  restoreBehindNs?: bigint;
}

export type SuspendAnswer = "restore" | "cancel" | "stay";

export interface SimResult {
  reason: ShutdownReason;
  console: string;            // everything the guest wrote, as xenconsoled would log it
  hypercalls: number;
}

// V8's trap messages -> the native runtime's (runtime/native/wasm_rt.c).
const TRAP_WORDING: [RegExp, string][] = [
  [/memory access out of bounds/, "out of bounds memory access"],
  [/divide by zero/, "integer divide by zero"],
  [/unreachable/, "unreachable executed"],
  [/integer overflow/, "integer overflow"],
  [/float unrepresentable|invalid conversion/, "invalid conversion to integer"],
  [/call stack|stack size/, "call stack exhausted"],
  [/signature mismatch|null function|table index/, "indirect call signature mismatch"],
];

export function trapWording(message: string): string {
  for (const [re, words] of TRAP_WORDING) if (re.test(message)) return words;
  return message;
}

type Defaults = "mode" | "memoryMB" | "cmdline" | "initialDomain" | "consoleEvtchn" | "storeEvtchn" | "name" | "stallConsole" | "maxHypercalls";

// One simulated domain (GUEST_DOMID = 1) with its hypervisor and dom0. Either
// `await runInSim(wasm)`, or, to reach dom0 and xenstore around the run:
//   const g = new SimGuest(opts); await g.start(wasm);
//   g.dom0.onEvent(...); g.xenstore.write(...);
//   const result = await g.run();
export class SimGuest {
  readonly hv: Hypervisor;
  readonly xenstore = new XenStored();
  private memory: WebAssembly.Memory | null = null;
  private instance: WebAssembly.Instance | null = null;
  private module: WebAssembly.Module | null = null;
  private symbolizer: Symbolizer | null = null;
  private readonly console: ConsoleBackend;
  private hypercallCount = 0;
  private consoleChannel: number | null = null;
  private rdrandState: bigint;
  private storeChannel: number | null = null;
  private readonly opts: Required<Pick<SimOptions, Defaults>> & SimOptions;

  constructor(opts: SimOptions = {}) {
    this.opts = {
      mode: "pv", memoryMB: 32, cmdline: "", initialDomain: false, consoleEvtchn: 2, storeEvtchn: 1, name: "tsxen-sim",
      stallConsole: false, maxHypercalls: 10_000_000,
      ...Object.fromEntries(Object.entries(opts).filter(([, value]) => value !== undefined)),
    };
    this.rdrandState = BigInt(this.opts.rdrand === false ? 0 : this.opts.rdrand ?? 1) | 1n;
    this.console = new ConsoleBackend(() => this.view(), L.pageAddress(L.CONSOLE_PFN));
    this.console.stalled = this.opts.stallConsole;
    this.console.onOutput = this.opts.onConsole ?? null;
    this.hv = new Hypervisor({
      memory: () => this.buffer(),
      nrPages: this.opts.memoryMB * 256,
      mode: this.opts.mode,
      privileged: this.opts.initialDomain,
      consoleIo: (bytes) => this.console.append(bytes),
      clock: { startNs: this.opts.startTimeNs, rdtscStepNs: this.opts.rdtscStepNs, follow: this.opts.followClock },
      wallClockNs: this.opts.wallClockNs,
      maxGrantFrames: this.opts.maxGrantFrames,
      maxBlockNs: this.opts.maxBlockNs,
      outside: this.opts.outside,
    });
  }

  get dom0(): Dom0 {
    return this.hv.dom0;
  }

  get clock(): VirtualClock {
    return this.hv.clock;
  }

  // dom0's ends of the console and xenstore channels (after start()).
  get consolePort(): number {
    return this.started(this.consoleChannel, "console port");
  }

  get storePort(): number {
    return this.started(this.storeChannel, "store port");
  }

  // Runs `cb` when the guest notifies its xenstore channel, besides
  // xenstored (which is always connected).
  onStoreEvent(cb: (port: number) => void): void {
    const port = this.storePort;
    this.dom0.onEvent(port, (p) => {
      this.serveStore();
      cb(p);
    });
  }

  // xenstored's turn on the guest's ring: now, or after xenstoreLatencyNs.
  private serveStore(): void {
    const latency = this.opts.xenstoreLatencyNs ?? 0n;
    if (latency > 0n) this.dom0.after(latency, () => this.xenstore.onGuestEvent(GUEST_DOMID));
    else this.xenstore.onGuestEvent(GUEST_DOMID);
  }

  // What the guest has written to its console: everything, or from byte
  // `from` on (consoleLength() is where the next byte will go).
  consoleText(from = 0): string {
    return from === 0 ? this.console.text() : this.console.textFrom(from);
  }

  consoleLength(): number {
    return this.console.length;
  }

  // The guest address of the page a grant entry or ring-ref names (a machine
  // frame under PV, a guest frame under PVH).
  frameAddress(frame: number): number {
    return L.pageAddress(this.hv.physmap.pfnOf(frame));
  }

  // The guest's memory (after start()).
  view(): DataView {
    return new DataView(this.buffer());
  }

  private buffer(): ArrayBuffer {
    if (!this.memory) throw new Error("sim: the guest has not been started (await guest.start(wasm) first)");
    return this.memory.buffer;
  }

  private started<T>(value: T | null, what: string): T {
    if (value === null) throw new Error(`sim: no ${what} (not started, or the initial domain)`);
    return value;
  }

  private bytes(at: number, len: number): Uint8Array {
    return new Uint8Array(this.buffer(), at, len);
  }

  // Writes start_info (PV) or hvm_start_info (PVH) and zeroed ring pages,
  // as Xen's domain builder does.
  private layOut(): void {
    if (this.opts.mode === "pvh") this.layOutPvh();
    else this.layOutPv();
  }

  private layOutPv(): void {
    const v = this.view();
    const nrPages = this.opts.memoryMB * 256;
    const si = L.pageAddress(L.START_INFO_PFN);
    this.bytes(si, L.PAGE_SIZE * (L.P2M_PFN - L.START_INFO_PFN)).fill(0);
    this.bytes(si, SI.START_INFO_MAGIC_PREFIX.length).set(Buffer.from(SI.START_INFO_MAGIC_PREFIX));
    v.setBigUint64(si + SI.START_INFO_NR_PAGES, BigInt(nrPages), true);
    v.setBigUint64(si + SI.START_INFO_SHARED_INFO, BigInt(L.pfnToMfn(L.SHARED_INFO_PFN) * L.PAGE_SIZE), true);
    v.setUint32(si + SI.START_INFO_FLAGS, this.opts.initialDomain ? XEN.SIF_INITDOMAIN | XEN.SIF_PRIVILEGED : 0, true);
    if (!this.opts.initialDomain) {
      v.setBigUint64(si + SI.START_INFO_STORE_MFN, BigInt(L.pfnToMfn(L.STORE_PFN)), true);
      v.setUint32(si + SI.START_INFO_STORE_EVTCHN, this.opts.storeEvtchn, true);
      v.setBigUint64(si + SI.START_INFO_CONSOLE_MFN, BigInt(L.pfnToMfn(L.CONSOLE_PFN)), true);
      v.setUint32(si + SI.START_INFO_CONSOLE_EVTCHN, this.opts.consoleEvtchn, true);
    }
    const p2m = L.pageAddress(L.P2M_PFN);
    v.setBigUint64(si + SI.START_INFO_MFN_LIST, BigInt(p2m), true);
    // Only the p2m entries that fit below the wasm memory's first data are
    // written; the sim's guests never look further.
    const entries = Math.min(nrPages, (this.buffer().byteLength - p2m) / 8, 65536);
    for (let pfn = 0; pfn < entries; pfn++) v.setBigUint64(p2m + pfn * 8, BigInt(L.pfnToMfn(pfn)), true);
    const cmd = Buffer.from(this.opts.cmdline);
    if (cmd.length >= SI.MAX_GUEST_CMDLINE) throw new Error("cmdline too long for start_info");
    this.bytes(si + SI.START_INFO_CMD_LINE, cmd.length).set(cmd);
    this.opts.editStartInfo?.(v, si);
  }

  // hvm_start_info v1 with the command line and the memory map in its page
  // (RAM from 0, the special pages' reserved region), the HVM parameters,
  // and what the native PVH boot code does: the rings appear at their
  // window pages, shared_info at its page.
  private layOutPvh(): void {
    const v = this.view();
    const si = L.pageAddress(L.START_INFO_PFN);
    this.bytes(si, L.PAGE_SIZE * (L.P2M_PFN - L.START_INFO_PFN)).fill(0);
    v.setUint32(si + HSI.HVM_START_INFO_MAGIC, HSI.XEN_HVM_START_MAGIC_VALUE, true);
    v.setUint32(si + HSI.HVM_START_INFO_VERSION, 1, true);
    v.setUint32(si + HSI.HVM_START_INFO_FLAGS, this.opts.initialDomain ? XEN.SIF_INITDOMAIN | XEN.SIF_PRIVILEGED : 0, true);
    const cmd = Buffer.from(this.opts.cmdline);
    if (cmd.length >= SI.MAX_GUEST_CMDLINE) throw new Error("cmdline too long");
    if (cmd.length) {
      this.bytes(si + L.PVH_CMDLINE_OFFSET, cmd.length).set(cmd);
      v.setBigUint64(si + HSI.HVM_START_INFO_CMDLINE_PADDR, BigInt(si + L.PVH_CMDLINE_OFFSET), true);
    }
    const map = [
      { address: 0, size: this.opts.memoryMB * 1024 * 1024, type: HSI.XEN_HVM_MEMMAP_TYPE_RAM },
      { ...L.PVH_SPECIAL_REGION, type: HSI.XEN_HVM_MEMMAP_TYPE_RESERVED },
    ];
    const at = si + L.PVH_MEMMAP_OFFSET;
    map.forEach((e, i) => {
      const entry = at + i * HSI.HVM_MEMMAP_ENTRY_BYTES;
      v.setBigUint64(entry + HSI.HVM_MEMMAP_ENTRY_ADDR, BigInt(e.address), true);
      v.setBigUint64(entry + HSI.HVM_MEMMAP_ENTRY_SIZE, BigInt(e.size), true);
      v.setUint32(entry + HSI.HVM_MEMMAP_ENTRY_TYPE, e.type, true);
    });
    v.setBigUint64(si + HSI.HVM_START_INFO_MEMMAP_PADDR, BigInt(at), true);
    v.setUint32(si + HSI.HVM_START_INFO_MEMMAP_ENTRIES, map.length, true);
    if (!this.opts.initialDomain) {
      const params = this.hv.hvmParams;
      params.set(HVM.HVM_PARAM_CONSOLE_PFN, BigInt(L.PVH_CONSOLE_GFN));
      params.set(HVM.HVM_PARAM_CONSOLE_EVTCHN, BigInt(this.opts.consoleEvtchn));
      params.set(HVM.HVM_PARAM_STORE_PFN, BigInt(L.PVH_STORE_GFN));
      params.set(HVM.HVM_PARAM_STORE_EVTCHN, BigInt(this.opts.storeEvtchn));
    }
    this.opts.editStartInfo?.(v, si);
  }

  // What xl and the backends do before the guest is unpaused: console and
  // xenstore channels bound to dom0, the guest introduced to xenstored with
  // the keys the toolstack writes.
  private connectBackends(guestConsolePort = this.opts.consoleEvtchn, guestStorePort = this.opts.storeEvtchn): void {
    if (this.opts.initialDomain) return;
    const frameOf = this.hv.physmap.frameOf;
    const consolePort = this.hv.setUpBackendChannel(guestConsolePort, G.GNTTAB_RESERVED_CONSOLE, frameOf(L.CONSOLE_PFN));
    this.consoleChannel = consolePort;
    this.dom0.onEvent(consolePort, () => this.serveConsole(consolePort));
    const storePort = this.hv.setUpBackendChannel(guestStorePort, G.GNTTAB_RESERVED_XENSTORE, frameOf(L.STORE_PFN));
    this.storeChannel = storePort;
    this.xenstore.introduceDomain(GUEST_DOMID, { view: () => this.view(), offset: L.pageAddress(L.STORE_PFN) }, () => this.dom0.send(storePort));
    this.dom0.onEvent(storePort, () => this.serveStore());
    this.xenstore.write(`/local/domain/${GUEST_DOMID}/domid`, String(GUEST_DOMID));
    this.xenstore.write(`/local/domain/${GUEST_DOMID}/name`, this.opts.name);
  }

  // ---- save, restore, migration

  // Suspends done (HOSTOP_SUSPEND) and new domains the guest went on in.
  suspends = 0;
  generation = 0;
  // Run when the guest moves to a new domain: `before` while the old domain
  // still exists (its backends go), `after` once the new one is built (new
  // backends come), as libxl does around a restore.
  private readonly newDomainHooks = { before: [] as (() => void)[], after: [] as (() => void)[] };

  onNewDomain(before: () => void, after: () => void): void {
    this.newDomainHooks.before.push(before);
    this.newDomainHooks.after.push(after);
  }

  private suspend(): bigint {
    this.suspends++;
    const answer = this.opts.onSuspend?.(this) ?? "stay";
    if (answer === "cancel") return 1n;
    if (answer === "stay") throw new Shutdown("suspend");
    this.restoreInNewDomain();
    return 0n;
  }

  // What xl restore (or the receiving end of xl migrate) does, with the
  // guest's memory as it was: the old domain's backends and channels go,
  // xenstored forgets the domain (its watches and nodes), the hypervisor's
  // view of it is rebuilt (hypervisor.ts newDomain), the console and
  // xenstore channels come back on other ports (start_info or the HVM
  // parameters say which), the domain's keys are written again, then the
  // hooks add the new backends. The frames keep their numbers (the sim has
  // one physmap per mode).
  restoreInNewDomain(): void {
    if (this.opts.initialDomain) throw new Error("sim: the initial domain cannot be restored");
    for (const hook of this.newDomainHooks.before) hook();
    this.dom0.close(this.consolePort);
    this.dom0.close(this.storePort);
    this.xenstore.releaseDomain(GUEST_DOMID);
    this.generation++;
    this.hv.newDomain(this.opts.restoreBehindNs ?? 0n);
    const consoleEvtchn = this.opts.consoleEvtchn + 8 * this.generation;
    const storeEvtchn = this.opts.storeEvtchn + 8 * this.generation;
    const v = this.view();
    if (this.opts.mode === "pvh") {
      this.hv.hvmParams.set(HVM.HVM_PARAM_CONSOLE_EVTCHN, BigInt(consoleEvtchn));
      this.hv.hvmParams.set(HVM.HVM_PARAM_STORE_EVTCHN, BigInt(storeEvtchn));
    } else {
      const si = L.pageAddress(L.START_INFO_PFN);
      v.setUint32(si + SI.START_INFO_CONSOLE_EVTCHN, consoleEvtchn, true);
      v.setUint32(si + SI.START_INFO_STORE_EVTCHN, storeEvtchn, true);
    }
    this.connectBackends(consoleEvtchn, storeEvtchn);
    for (const hook of this.newDomainHooks.after) hook();
  }

  // xenconsoled: drains the ring and, as it does after consuming, notifies
  // the guest that there is space again.
  private serveConsole(port: number): void {
    const cons = () => this.view().getUint32(L.pageAddress(L.CONSOLE_PFN) + CONS.XENCONS_OUT_CONS, true);
    const before = cons();
    this.console.drain();
    if (cons() !== before) this.dom0.send(port);
  }

  // The last memory growth that failed, in bytes (0: none).
  private failedGrowBytes = 0;

  // HOSTOP_MEMORY_GROW: the module's memory.grow, bounded by the guest's RAM
  // (the module's declared maximum, lowered to it at compile time).
  private growMemory(pages: bigint): bigint {
    const memory = this.started(this.memory, "memory");
    try {
      return BigInt(memory.grow(Number(pages)));
    } catch (e) {
      if (!(e instanceof RangeError)) throw e;
      this.failedGrowBytes = Number(pages) * 65536;
      return -1n;
    }
  }

  // "out of memory: <n> bytes requested, heap <used> KiB of <max> KiB", the
  // heap being the module's memory above its memory base, as the native
  // runtime says it.
  private outOfMemory(): string {
    if (this.failedGrowBytes === 0) return OUT_OF_MEMORY;
    const base = memoryBaseFor(this.opts.memoryMB);   // as tsxen build chose it for this size
    const used = (this.buffer().byteLength - base) / 1024;
    const max = (Math.floor((this.opts.memoryMB << 20) / 65536) * 65536 - base) / 1024;
    return `${OUT_OF_MEMORY}: ${this.failedGrowBytes} bytes requested, heap ${used} KiB of ${max} KiB`;
  }

  private hypercall(op: number, a1: bigint, a2: bigint, a3: bigint, a4: bigint, a5: bigint): bigint {
    if (op === HOSTOP_MEMORY_GROW) return this.growMemory(a1);
    if (op === HOSTOP_MEMORY_LIMIT) return BigInt(Math.floor((this.opts.memoryMB << 20) / 65536));
    if (op === HOSTOP_BOOT_TSC) return this.bootTsc;
    if (op === HOSTOP_SUSPEND) return this.suspend();
    if (this.collectAtHypercalls) (this.instance!.exports.__collect as () => void)();
    if (++this.hypercallCount > this.opts.maxHypercalls) throw new Error(`guest made more than ${this.opts.maxHypercalls} hypercalls`);
    return this.hv.hypercall(op, a1, a2, a3, a4, a5);
  }

  // Allocations reported by a build instrumented with "allocations"
  // (tools/build.ts): blocks and bytes handed out by the allocator so far.
  // (freed: blocks the collector gave back.)
  readonly allocations = { blocks: 0, bytes: 0, freed: 0 };
  // With a build instrumented with "stress": a full collection at every
  // hypercall (the runtime keeps every live reference on its shadow stack,
  // so whatever a driver still uses through a raw address must be memory
  // the collector does not own).
  collectAtHypercalls = false;

  // AssemblyScript's rtrace hooks (module "rtrace"), for "allocations" builds.
  private rtrace(): Record<string, (...args: number[]) => number | void> {
    const size = (block: number) => this.view().getUint32(block, true) & ~3;
    return {
      oninit: () => {},
      onalloc: (block) => { this.allocations.blocks++; this.allocations.bytes += size(block); },
      onresize: (block, oldSize) => { this.allocations.bytes += Math.max(0, size(block) + 4 - oldSize); },
      onmove: (_old, block) => { this.allocations.blocks++; this.allocations.bytes += size(block); },
      // Stress builds: what the collector frees is filled with 0xdd at once
      // (before TLSF links the block into its free lists), so a driver still
      // using it through a raw address reads garbage and fails its test.
      onfree: (block) => {
        this.allocations.freed++;
        if (this.collectAtHypercalls) new Uint8Array(this.buffer(), block + 4, size(block)).fill(0xdd);
      },
      onvisit: () => 1,
      oncollect: () => {},
      oninterrupt: () => {},
      onyield: () => {},
      // asc also checks every store and load in such builds: let them through.
      onstore: (ptr) => ptr,
      onload: (ptr) => ptr,
    };
  }

  private imports(): WebAssembly.Imports {
    return {
      rtrace: this.rtrace(),
      xen: {
        hypercall: (op: number, a1: bigint, a2: bigint, a3: bigint, a4: bigint, a5: bigint) => this.hypercall(op, a1, a2, a3, a4, a5),
        mfn_to_pfn: (mfn: bigint) => BigInt(this.hv.physmap.pfnOf(Number(mfn))),
        start_info: () => L.pageAddress(L.START_INFO_PFN),
        shared_info: () => this.hv.sharedInfo,
        rdtsc: () => this.hv.rdtsc(),
        fence: () => {},
        // The sim runs the guest on one thread: plain read-modify-write is atomic here.
        atomic_and64: (addr: number, mask: bigint) => {
          const old = this.view().getBigUint64(addr, true);
          this.view().setBigUint64(addr, old & BigInt.asUintN(64, mask), true);
          return old;
        },
        atomic_or64: (addr: number, mask: bigint) => {
          const old = this.view().getBigUint64(addr, true);
          this.view().setBigUint64(addr, old | BigInt.asUintN(64, mask), true);
          return old;
        },
        cmpxchg16: (addr: number, expected: number, replacement: number) => {
          const old = this.view().getUint16(addr, true);
          if (old === (expected & 0xffff)) this.view().setUint16(addr, replacement & 0xffff, true);
          return old;
        },
        // xorshift64* (the sim's stand-in for the CPU's generator: seeded, reproducible).
        rdrand: (out: number) => {
          if (this.opts.rdrand === false) return 0;
          let x = this.rdrandState;
          x ^= x >> 12n; x ^= BigInt.asUintN(64, x << 25n); x ^= x >> 27n;
          this.rdrandState = x;
          this.view().setBigUint64(out, BigInt.asUintN(64, x * 0x2545f4914f6cdd1dn), true);
          return 1;
        },
        panic: (msg: number, len: number) => {
          const text = Buffer.from(this.bytes(msg, len)).toString("utf8");
          this.report(`panic: ${text}`, this.symbolizer?.here() ?? []);
          throw new Shutdown("crash");
        },
      },
    };
  }

  // A trap or panic line and its backtrace, on the console.
  private report(line: string, frames: Frame[]): void {
    this.console.append(Buffer.from([line, ...backtraceLines(frames)].map((l) => l + "\n").join("")));
  }

  // Compiles the module (once per binary and RAM size). Its memory is
  // bounded by the guest's RAM, as under Xen, where memory.grow fails past
  // the RAM the runtime mapped.
  async compile(wasm: Uint8Array): Promise<WebAssembly.Module> {
    if (!this.module) {
      this.module = await compiled(wasm, Math.floor((this.opts.memoryMB << 20) / 65536));
      this.symbolizer = new Symbolizer(wasm, this.opts.sourceMap ?? null);
    }
    return this.module;
  }

  // Instantiates the module and builds the domain: start_info, shared_info,
  // the console and xenstore channels. The guest has not run yet.
  async start(wasm: Uint8Array): Promise<void> {
    if (this.instance) throw new Error("sim: the guest was already started");
    this.instance = await WebAssembly.instantiate(await this.compile(wasm), this.imports());
    this.memory = this.instance.exports.memory as WebAssembly.Memory;
    this.layOut();
    this.hv.initSharedInfo();
    this.connectBackends();
    this.bootTsc = this.hv.clock.tsc();
  }

  // HOSTOP_BOOT_TSC: the TSC when the domain started (the sim has no shim).
  private bootTsc = 0n;

  // Runs the guest until it shuts down or traps (starting it first if
  // `wasm` is given). dom0 callbacks run inside this call.
  async run(wasm?: Uint8Array): Promise<SimResult> {
    if (wasm) await this.start(wasm);
    const exports = this.started(this.instance, "guest").exports;
    const result = (reason: ShutdownReason): SimResult => ({ reason, console: this.console.text(), hypercalls: this.hypercallCount });
    try {
      withStackTraceLimit(() => {
        (exports[START_EXPORT] as () => void)();
        (exports[ENTRY_EXPORT] as () => void)();
      });
    } catch (e) {
      if (e instanceof Shutdown) {
        if (e.message) this.console.append(Buffer.from(e.message));
        return result(e.reason);
      }
      if (e instanceof WebAssembly.RuntimeError) {
        const frames = this.symbolizer?.frames(e) ?? [];
        const reason = trapReason(trapWording(e.message), frames);
        this.report(`trap: ${reason === OUT_OF_MEMORY ? this.outOfMemory() : reason}`, frames);
        return result("crash");
      }
      // V8 reports a wasm stack overflow as a RangeError; the native runtime
      // as the trap "call stack exhausted" (its call depth limit).
      if (e instanceof RangeError && /call stack/i.test(e.message)) {
        const frames = this.symbolizer?.frames(e) ?? [];
        if (frames.length > 0) {
          this.report(`trap: ${trapWording(e.message)}`, frames);
          return result("crash");
        }
      }
      throw e;
    }
    // The runtime's entry always ends in exit(); returning means it did not.
    this.console.append(Buffer.from("sim: tsxen_main returned without shutting down\n"));
    return result("crash");
  }
}

// Compiling is most of the cost of a guest's start: one module per binary
// (and memory maximum).
const modules = new WeakMap<Uint8Array, Map<number, Promise<WebAssembly.Module>>>();
function compiled(wasm: Uint8Array, maxPages: number): Promise<WebAssembly.Module> {
  let byMax = modules.get(wasm);
  if (!byMax) {
    byMax = new Map();
    modules.set(wasm, byMax);
  }
  let m = byMax.get(maxPages);
  if (!m) {
    m = WebAssembly.compile(withMemoryMax(wasm, maxPages) as Uint8Array<ArrayBuffer>);
    byMax.set(maxPages, m);
  }
  return m;
}

export function runInSim(wasm: Uint8Array, opts: SimOptions = {}): Promise<SimResult> {
  return new SimGuest(opts).run(wasm);
}
