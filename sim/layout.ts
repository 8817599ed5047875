// The simulated guest's pseudo-physical layout: where the sim puts the pages
// Xen's domain builder would (xen.h "Start-of-day memory layout"), and a
// pfn -> mfn map in which machine frames differ from pseudo-physical ones,
// so a runtime that mixes them up reads the wrong page and fails a test.
// All of it lies below the module's --memoryBase, as under real Xen.
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
