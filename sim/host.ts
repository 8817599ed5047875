// The simulated Xen host: runs a tsxen wasm module in Node with the same
// `xen.*` imports (tools/host-interface.ts) and the same bytes in memory as
// under Xen: a start_info page, a console ring served by a console backend,
// a p2m list with pfn != mfn. Hypercalls are decoded from wasm memory the
// way Xen decodes them from guest memory.
//
// What the sim cannot reproduce: page 0 is readable (wasm has no unmapped
// pages), and traps are V8's, reported with the native runtime's wording.
import * as XEN from "../runtime/abi/xen.ts";
import * as SI from "../runtime/abi/start_info.ts";
import { ENTRY_EXPORT, START_EXPORT } from "../tools/host-interface.ts";
import { ConsoleBackend } from "./console-backend.ts";
import * as L from "./layout.ts";

export type ShutdownReason = "poweroff" | "reboot" | "suspend" | "crash" | "watchdog";
const REASONS: ShutdownReason[] = ["poweroff", "reboot", "suspend", "crash", "watchdog"];

export interface SimOptions {
  memoryMB?: number;          // reported in start_info.nr_pages (default 32)
  cmdline?: string;           // start_info.cmd_line (xl `extra=`)
  initialDomain?: boolean;    // behave as dom0: no console ring, console_io
  consoleEvtchn?: number;
  storeEvtchn?: number;
  // Lets a test corrupt start_info before the guest reads it.
  editStartInfo?: (view: DataView, address: number) => void;
  stallConsole?: boolean;     // the console backend never reads
  maxHypercalls?: number;     // a guest that loops on hypercalls is stopped (default 10 million)
}

export interface SimResult {
  reason: ShutdownReason;
  console: string;            // everything the guest wrote, as xenconsoled would log it
  hypercalls: number;
}

// Unwinds the wasm stack when the guest shuts down: SCHEDOP_shutdown does not return.
class Shutdown {
  constructor(readonly reason: ShutdownReason) {}
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

export class SimGuest {
  private memory!: WebAssembly.Memory;
  private readonly console: ConsoleBackend;
  private hypercallCount = 0;
  private readonly opts: Required<Omit<SimOptions, "editStartInfo">> & Pick<SimOptions, "editStartInfo">;

  constructor(opts: SimOptions = {}) {
    this.opts = {
      memoryMB: 32, cmdline: "", initialDomain: false, consoleEvtchn: 2, storeEvtchn: 1,
      stallConsole: false, maxHypercalls: 10_000_000,
      ...Object.fromEntries(Object.entries(opts).filter(([, value]) => value !== undefined)),
    };
    this.console = new ConsoleBackend(() => this.view(), L.pageAddress(L.CONSOLE_PFN));
    this.console.stalled = this.opts.stallConsole;
  }

  private view(): DataView {
    return new DataView(this.memory.buffer);
  }

  private bytes(at: number, len: number): Uint8Array {
    return new Uint8Array(this.memory.buffer, at, len);
  }

  // Writes start_info, the p2m list and zeroed ring pages, as Xen's domain builder does.
  private layOut(): void {
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
    const entries = Math.min(nrPages, (this.memory.buffer.byteLength - p2m) / 8, 65536);
    for (let pfn = 0; pfn < entries; pfn++) v.setBigUint64(p2m + pfn * 8, BigInt(L.pfnToMfn(pfn)), true);
    const cmd = Buffer.from(this.opts.cmdline);
    if (cmd.length >= SI.MAX_GUEST_CMDLINE) throw new Error("cmdline too long for start_info");
    this.bytes(si + SI.START_INFO_CMD_LINE, cmd.length).set(cmd);
    this.opts.editStartInfo?.(v, si);
  }

  private hypercall(op: number, a1: bigint, a2: bigint, a3: bigint): bigint {
    if (++this.hypercallCount > this.opts.maxHypercalls) throw new Error(`guest made more than ${this.opts.maxHypercalls} hypercalls`);
    const v = this.view();
    switch (op) {
      case XEN.HYPERVISOR_console_io:
        if (Number(a1) !== XEN.CONSOLEIO_write) return BigInt(-XEN.XEN_ENOSYS);
        if (!this.opts.initialDomain) return BigInt(-XEN.XEN_EPERM); // as a release Xen does for a domU
        this.console.append(this.bytes(Number(a3), Number(a2)).slice());
        return 0n;
      case XEN.HYPERVISOR_sched_op:
        switch (Number(a1)) {
          case XEN.SCHEDOP_yield:
            return 0n;
          case XEN.SCHEDOP_shutdown: {
            const reason = REASONS[v.getUint32(Number(a2), true)];
            if (!reason) return BigInt(-XEN.XEN_EINVAL);
            throw new Shutdown(reason);
          }
          default:
            return BigInt(-XEN.XEN_ENOSYS);
        }
      case XEN.HYPERVISOR_event_channel_op:
        if (Number(a1) !== XEN.EVTCHNOP_send) return BigInt(-XEN.XEN_ENOSYS);
        if (v.getUint32(Number(a2), true) === this.opts.consoleEvtchn) this.console.drain();
        return 0n;
      default:
        return BigInt(-XEN.XEN_ENOSYS);
    }
  }

  private imports(): WebAssembly.Imports {
    return {
      xen: {
        hypercall: (op: number, a1: bigint, a2: bigint, a3: bigint) => this.hypercall(op, a1, a2, a3),
        mfn_to_pfn: (mfn: bigint) => BigInt(L.mfnToPfn(Number(mfn))),
        start_info: () => L.pageAddress(L.START_INFO_PFN),
        shared_info: () => L.pageAddress(L.SHARED_INFO_PFN),
        rdtsc: () => process.hrtime.bigint(),
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
        panic: (msg: number, len: number) => {
          this.console.append(Buffer.from(`panic: ${Buffer.from(this.bytes(msg, len)).toString("utf8")}\n`));
          throw new Shutdown("crash");
        },
      },
    };
  }

  async run(wasm: Uint8Array): Promise<SimResult> {
    const instance = await WebAssembly.instantiate(await WebAssembly.compile(wasm as Uint8Array<ArrayBuffer>), this.imports());
    this.memory = instance.exports.memory as WebAssembly.Memory;
    this.layOut();
    const result = (reason: ShutdownReason): SimResult => ({ reason, console: this.console.text(), hypercalls: this.hypercallCount });
    try {
      (instance.exports[START_EXPORT] as () => void)();
      (instance.exports[ENTRY_EXPORT] as () => void)();
    } catch (e) {
      if (e instanceof Shutdown) return result(e.reason);
      if (e instanceof WebAssembly.RuntimeError) {
        this.console.append(Buffer.from(`trap: ${trapWording((e as Error).message)}\n`));
        return result("crash");
      }
      throw e;
    }
    // The runtime's entry always ends in exit(); returning means it did not.
    this.console.append(Buffer.from("sim: tsxen_main returned without shutting down\n"));
    return result("crash");
  }
}

export function runInSim(wasm: Uint8Array, opts: SimOptions = {}): Promise<SimResult> {
  return new SimGuest(opts).run(wasm);
}
