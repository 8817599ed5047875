// What Xen tells the guest at boot, read and checked once: under PV the
// start_info page (abi/start_info.ts); under PVH the hvm_start_info
// structure (abi/hvm_start_info.ts: command line, memory map) plus the HVM
// parameters that name the console and xenstore rings (abi/hvm.ts). The
// host's start_info import returns whichever the guest was booted with;
// the magic tells them apart. Apps read the result through startInfo(),
// the same StartInfo in both modes.
import { startInfoAddress, sharedInfoAddress, mfnToPfn } from "./host";
import * as SI from "./abi/start_info";
import * as HSI from "./abi/hvm_start_info";
import * as HVM from "./abi/hvm";
import { SIF_INITDOMAIN } from "./abi/xen";
import { hvmGetParam } from "./hypercall";
import { panic } from "./panic";

const PAGE_SHIFT: u64 = 12;
// Wasm addresses are 32-bit; and the native boot code maps at most 1 GiB.
const MAX_PAGES: u64 = 1 << 18;
// A PVH memory map longer than this is refused (libxl writes a handful).
const MAX_MEMMAP_ENTRIES: u32 = 128;

// One entry of the guest-physical memory map.
export class MemoryRegion {
  constructor(
    public address: u64,
    public size: u64,
    public type: u32,        // XEN_HVM_MEMMAP_TYPE_* (the E820 types): 1 = RAM
  ) {}
}

export class StartInfo {
  isPvh: bool = false;       // booted as type = "pvh" (else "pv")
  address: usize = 0;        // of start_info (PV) or hvm_start_info (PVH)
  magic: string = "";        // PV: "xen-3.0-x86_64"; PVH: "336ec578" (XEN_HVM_START_MAGIC_VALUE, hex)
  nrPages: u64 = 0;          // pages of RAM
  sharedInfoMachineAddress: u64 = 0; // PV: machine address; PVH: the guest address it was placed at
  flags: u32 = 0;            // SIF_*
  // The xenstore and console ring pages: machine frames under PV, guest
  // frames under PVH (what grant entries and xenstore's ring-ref carry).
  storeMfn: u64 = 0;
  storeEvtchn: u32 = 0;
  consoleMfn: u64 = 0;
  consoleEvtchn: u32 = 0;
  p2mAddress: usize = 0;     // PV: the pfn -> mfn list; PVH: 0 (Xen translates frames)
  cmdLine: string = "";      // xl's `extra=`
  // PVH: hvm_start_info's memory map; PV: one RAM region [0, ramBytes).
  memoryMap: MemoryRegion[] = [];

  get mode(): string { return this.isPvh ? "pvh" : "pv"; }
  get isInitialDomain(): bool { return (this.flags & SIF_INITDOMAIN) != 0; }
  get ramBytes(): u64 { return this.nrPages << PAGE_SHIFT; }
  // Where the console and xenstore ring pages are mapped (pfn << 12).
  get consolePage(): usize { return pageAddress(this.consoleMfn); }
  get storePage(): usize { return pageAddress(this.storeMfn); }
}

function pageAddress(frame: u64): usize {
  return <usize>(mfnToPfn(frame) << PAGE_SHIFT);
}

// Reads a NUL-terminated string of at most `max` bytes.
function readCString(at: usize, max: i32): string {
  let len = 0;
  while (len < max && load<u8>(at + len) != 0) len++;
  return String.UTF8.decodeUnsafe(at, len);
}

// Whether [address, address + len) lies inside wasm memory.
function inMemory(address: u64, len: u64): bool {
  const end = address + len;
  return end >= address && end <= (<u64>memory.size() << 16);
}

// Validates what parseStartInfo read. Returns an error message, or null if it is usable.
export function checkStartInfo(si: StartInfo): string | null {
  if (si.isPvh) {
    if (si.memoryMap.length == 0) return "hvm_start_info has no memory map (version 1 needed)";
  } else if (!si.magic.startsWith(SI.START_INFO_MAGIC_PREFIX)) {
    return "bad start_info magic '" + si.magic + "'";
  }
  const what = si.isPvh ? "the PVH memory map's RAM" : "start_info.nr_pages";
  if (si.nrPages == 0 || si.nrPages > MAX_PAGES) return what + " out of range: " + si.nrPages.toString() + " pages";
  if (!si.isInitialDomain && (si.consoleMfn == 0 || si.storeMfn == 0)) {
    return si.isPvh ? "the HVM parameters name no console or xenstore ring" : "start_info has no console or xenstore page";
  }
  return null;
}

function parsePvStartInfo(at: usize): StartInfo {
  const si = new StartInfo();
  si.address = at;
  si.magic = readCString(at + SI.START_INFO_MAGIC, SI.START_INFO_MAGIC_LEN);
  si.nrPages = load<u64>(at + SI.START_INFO_NR_PAGES);
  si.sharedInfoMachineAddress = load<u64>(at + SI.START_INFO_SHARED_INFO);
  si.flags = load<u32>(at + SI.START_INFO_FLAGS);
  si.storeMfn = load<u64>(at + SI.START_INFO_STORE_MFN);
  si.storeEvtchn = load<u32>(at + SI.START_INFO_STORE_EVTCHN);
  si.consoleMfn = load<u64>(at + SI.START_INFO_CONSOLE_MFN);
  si.consoleEvtchn = load<u32>(at + SI.START_INFO_CONSOLE_EVTCHN);
  si.p2mAddress = <usize>load<u64>(at + SI.START_INFO_MFN_LIST);
  si.cmdLine = readCString(at + SI.START_INFO_CMD_LINE, SI.MAX_GUEST_CMDLINE);
  si.memoryMap = [new MemoryRegion(0, si.nrPages << PAGE_SHIFT, HSI.XEN_HVM_MEMMAP_TYPE_RAM)];
  return si;
}

// An HVM parameter, or 0 if Xen refuses it (checkStartInfo then says what is missing).
function param(index: u32): u64 {
  const v = hvmGetParam(index);
  return v < 0 ? 0 : <u64>v;
}

function parseHvmStartInfo(at: usize): StartInfo {
  const si = new StartInfo();
  si.isPvh = true;
  si.address = at;
  si.magic = (<u32>HSI.XEN_HVM_START_MAGIC_VALUE).toString(16);
  si.flags = load<u32>(at + HSI.HVM_START_INFO_FLAGS);
  const cmdline = load<u64>(at + HSI.HVM_START_INFO_CMDLINE_PADDR);
  if (cmdline != 0 && inMemory(cmdline, 1)) {
    const room = (<u64>memory.size() << 16) - cmdline;
    si.cmdLine = readCString(<usize>cmdline, room < <u64>SI.MAX_GUEST_CMDLINE ? <i32>room : SI.MAX_GUEST_CMDLINE);
  }
  const version = load<u32>(at + HSI.HVM_START_INFO_VERSION);
  const entries = load<u32>(at + HSI.HVM_START_INFO_MEMMAP_ENTRIES);
  const map = load<u64>(at + HSI.HVM_START_INFO_MEMMAP_PADDR);
  if (version >= 1 && entries <= MAX_MEMMAP_ENTRIES && inMemory(map, <u64>entries * HSI.HVM_MEMMAP_ENTRY_BYTES)) {
    for (let i: u32 = 0; i < entries; i++) {
      const e = <usize>map + <usize>i * HSI.HVM_MEMMAP_ENTRY_BYTES;
      const region = new MemoryRegion(load<u64>(e + HSI.HVM_MEMMAP_ENTRY_ADDR), load<u64>(e + HSI.HVM_MEMMAP_ENTRY_SIZE), load<u32>(e + HSI.HVM_MEMMAP_ENTRY_TYPE));
      si.memoryMap.push(region);
      if (region.type == HSI.XEN_HVM_MEMMAP_TYPE_RAM) si.nrPages += region.size >> PAGE_SHIFT;
    }
  }
  si.sharedInfoMachineAddress = <u64>sharedInfoAddress();
  if (!si.isInitialDomain) {
    si.consoleMfn = param(HVM.HVM_PARAM_CONSOLE_PFN);
    si.consoleEvtchn = <u32>param(HVM.HVM_PARAM_CONSOLE_EVTCHN);
    si.storeMfn = param(HVM.HVM_PARAM_STORE_PFN);
    si.storeEvtchn = <u32>param(HVM.HVM_PARAM_STORE_EVTCHN);
  }
  return si;
}

// Reads what Xen handed the guest at `at` (start_info or hvm_start_info).
export function parseStartInfo(at: usize): StartInfo {
  return load<u32>(at) == <u32>HSI.XEN_HVM_START_MAGIC_VALUE ? parseHvmStartInfo(at) : parsePvStartInfo(at);
}

let cached: StartInfo | null = null;

// Reads start info again: after a resume in a new domain, where the
// toolstack wrote the new domain's ring frames and ports (PV start_info,
// PVH HVM parameters).
export function reloadStartInfo(): StartInfo {
  cached = null;
  return startInfo();
}

// The guest's start info, read and checked on first use.
export function startInfo(): StartInfo {
  let si = cached;
  if (si === null) {
    si = parseStartInfo(startInfoAddress());
    const err = checkStartInfo(si);
    if (err !== null) panic(err);
    cached = si;
  }
  return si;
}
