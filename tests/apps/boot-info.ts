// Test app: prints what startInfo() says about the boot — the mode, the
// memory map, where the console and xenstore rings and shared_info are
// seen, how a page is named in a grant — so the tests can check both boot
// modes (sim and real Xen) against what Xen set up. Then it touches every
// page of RAM it was told about, from the wasm memory base up, to prove
// the memory map and the page tables agree.
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
  log("boot-info: page " + hex(aligned) + " is frame " + hex(pageMfn(aligned)) + " in a grant");
  log("boot-info: cmdline '" + si.cmdLine + "'");
  // Grow towards the RAM's end (Xen refuses beyond the mapped RAM; the sim
  // would go on to 4 GiB) and write every page: a page the tables miss faults.
  while ((<u64>memory.size() << 16) < si.ramBytes && memory.grow(1) >= 0) {}
  const end = <usize>memory.size() << 16;
  let touched = 0;
  for (let at = aligned; at < end; at += 4096) {
    store<u32>(at, <u32>at);
    touched++;
  }
  log("boot-info: wrote " + touched.toString() + " pages up to " + hex(end) + ", grants in use " + grantsInUse().toString());
}
