// Reads and checks the start_info page (layout: abi/start_info.ts) once at
// boot. Apps read the result through startInfo().
import { startInfoAddress, mfnToPfn } from "./host";
import * as SI from "./abi/start_info";
import { SIF_INITDOMAIN } from "./abi/xen";
import { panic } from "./panic";

const PAGE_SHIFT: u64 = 12;
// Wasm addresses are 32-bit; and mm.c maps at most 1 GiB.
const MAX_PAGES: u64 = 1 << 18;

export class StartInfo {
  address: usize = 0;
  magic: string = "";
  nrPages: u64 = 0;
  sharedInfoMachineAddress: u64 = 0;
  flags: u32 = 0;
  storeMfn: u64 = 0;
  storeEvtchn: u32 = 0;
  consoleMfn: u64 = 0;
  consoleEvtchn: u32 = 0;
  p2mAddress: usize = 0;
  cmdLine: string = "";

  get isInitialDomain(): bool { return (this.flags & SIF_INITDOMAIN) != 0; }
  get ramBytes(): u64 { return this.nrPages << PAGE_SHIFT; }
  // Where the console and xenstore ring pages are mapped (pfn << 12).
  get consolePage(): usize { return pageAddress(this.consoleMfn); }
  get storePage(): usize { return pageAddress(this.storeMfn); }
}

function pageAddress(mfn: u64): usize {
  return <usize>(mfnToPfn(mfn) << PAGE_SHIFT);
}

// Reads a NUL-terminated string of at most `max` bytes.
function readCString(at: usize, max: i32): string {
  let len = 0;
  while (len < max && load<u8>(at + len) != 0) len++;
  return String.UTF8.decodeUnsafe(at, len);
}

// Validates a start_info page. Returns an error message, or null if it is usable.
export function checkStartInfo(si: StartInfo): string | null {
  if (!si.magic.startsWith(SI.START_INFO_MAGIC_PREFIX)) return "bad start_info magic '" + si.magic + "'";
  if (si.nrPages == 0 || si.nrPages > MAX_PAGES) return "start_info.nr_pages out of range: " + si.nrPages.toString();
  if (!si.isInitialDomain && (si.consoleMfn == 0 || si.storeMfn == 0)) return "start_info has no console or xenstore page";
  return null;
}

export function parseStartInfo(at: usize): StartInfo {
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
  return si;
}

let cached: StartInfo | null = null;

// The guest's start_info, read and checked on first use.
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
