// Test app: prints what startInfo() says about the boot — the mode, the
// memory map, where the console and xenstore rings and shared_info are
// seen, how a page is named in a grant — so the tests can check both boot
// modes (sim and real Xen) against what Xen set up. Then it grows wasm
// memory 1 MiB (16 pages) at a time until memory.grow refuses, writes to
// every page it got, and reports how far it went: under Xen the limit is
// the mapped RAM (runtime/native/wasm_rt.c), and the grown memory must be
// usable (a page the page tables miss faults) and read back zeroed.
import { log, startInfo, pageMfn, grantsInUse } from "tsxen";
import { sharedInfoAddress } from "tsxen/runtime/host";

const hex = (v: u64): string => "0x" + v.toString(16);

export function main(): void {
  const si = startInfo();
  log("boot-info: mode " + si.mode + ", magic " + si.magic + ", " + si.nrPages.toString() + " pages, flags " + si.flags.toString());
  for (let i = 0; i < si.memoryMap.length; i++) {
    const r = si.memoryMap[i];
    log("boot-info: region " + hex(r.address) + " size " + hex(r.size) + " type " + r.type.toString());
  }
  log("boot-info: console frame " + hex(si.consoleMfn) + " at " + hex(si.consolePage) + " port " + si.consoleEvtchn.toString());
  log("boot-info: xenstore frame " + hex(si.storeMfn) + " at " + hex(si.storePage) + " port " + si.storeEvtchn.toString());
  log("boot-info: shared_info at " + hex(sharedInfoAddress()) + ", p2m " + hex(si.p2mAddress));
  const page = heap.alloc(8192);
  const aligned = (page + 4095) & ~<usize>4095;
  log("boot-info: page " + hex(aligned) + " is frame " + hex(pageMfn(aligned)) + " in a grant, grants in use " + grantsInUse().toString());
  log("boot-info: cmdline '" + si.cmdLine + "'");

  const before = memory.size();
  let pages = before;
  let nonZero = 0;
  for (;;) {
    const old = memory.grow(16);
    if (old < 0) break;
    const start = <usize>old << 16;
    for (let at = start; at < start + (16 << 16); at += 4096) {
      if (load<u32>(at) != 0) nonZero++;
      store<u32>(at, 0xa5a5a5a5);
    }
    pages = memory.size();
  }
  log("grow: " + (<u32>((pages - before) >> 4)).toString() + " MiB grown, memory " + (<u32>(pages >> 4)).toString() +
      " MiB, RAM " + (<u32>(si.ramBytes >> 20)).toString() + " MiB, " + nonZero.toString() + " pages not zeroed");
}
