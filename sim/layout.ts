// The simulated guest's guest-physical layout: where the sim puts the pages
// Xen's domain builder (and, under PVH, the native boot code) would, and
// how frames are named in each boot mode. All of it lies below the
// module's --memoryBase, as under real Xen.
//
// PV (xen.h "Start-of-day memory layout"): start_info, the console and
// xenstore rings, shared_info and the p2m list are pages of the guest, and
// the frames Xen and the backends see are machine frames: mfn = pfn XOR
// MFN_SCRAMBLE, a bijection with no pfn equal to its mfn, so a runtime that
// mixes them up reads the wrong page and fails a test.
//
// PVH: hvm_start_info (its command line and memory map in the same page)
// takes start_info's page; frames are guest frames (= pfn), except the
// console and xenstore rings, which Xen keeps at special frames near 4 GiB
// (the real libxenguest numbers, tools/libs/guest/xg_dom_x86.c special_pfn)
// and the native boot code maps at CONSOLE_PFN / STORE_PFN, as
// runtime/native/mm_pvh.c maps them at console_window / store_window.
export const PAGE_SIZE = 4096;

export const START_INFO_PFN = 1;
export const CONSOLE_PFN = 2;
export const STORE_PFN = 3;
export const SHARED_INFO_PFN = 4;
export const P2M_PFN = 16; // the p2m array (8 bytes per page) starts here

// mfn = pfn XOR MFN_SCRAMBLE: a bijection, with no pfn equal to its mfn.
const MFN_SCRAMBLE = 0x5a5a5;

export function pfnToMfn(pfn: number): number {
  return pfn ^ MFN_SCRAMBLE;
}

export function mfnToPfn(mfn: number): number {
  return mfn ^ MFN_SCRAMBLE;
}

export const pageAddress = (pfn: number) => pfn * PAGE_SIZE;

// PVH: the special frames (X86_HVM_END_SPECIAL_REGION 0xff000 minus 8 pages;
// xenstore is special page 4, the console special page 7) and the reserved
// region of the memory map that holds them.
export const PVH_STORE_GFN = 0xfeffc;
export const PVH_CONSOLE_GFN = 0xfefff;
export const PVH_SPECIAL_REGION = { address: 0xfeff8000, size: 0x8000 };
// Inside the hvm_start_info page: the command line, then the memory map.
export const PVH_CMDLINE_OFFSET = 64;
export const PVH_MEMMAP_OFFSET = 64 + 1024;

export type BootMode = "pv" | "pvh";

// How the guest's frames are named to Xen and the backends.
export interface Physmap {
  frameOf(pfn: number): number;
  pfnOf(frame: number): number;
}

const pvPhysmap: Physmap = { frameOf: pfnToMfn, pfnOf: mfnToPfn };

const pvhPhysmap: Physmap = {
  frameOf: (pfn) => (pfn === CONSOLE_PFN ? PVH_CONSOLE_GFN : pfn === STORE_PFN ? PVH_STORE_GFN : pfn),
  pfnOf: (frame) => (frame === PVH_CONSOLE_GFN ? CONSOLE_PFN : frame === PVH_STORE_GFN ? STORE_PFN : frame),
};

export function physmapOf(mode: BootMode): Physmap {
  return mode === "pvh" ? pvhPhysmap : pvPhysmap;
}
