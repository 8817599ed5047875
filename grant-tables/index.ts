// Grant tables, version 1 (xen/include/public/grant_table.h): lets this
// guest give another domain (a backend) access to one of its pages.
//
// Setup: GNTTABOP_query_size, then the table's frames are put over
// page-aligned memory of our own (so they lie inside wasm memory). PV:
// GNTTABOP_setup_table returns their machine frames, mapped with
// update_va_mapping. PVH: XENMEM_add_to_physmap (XENMAPSPACE_grant_table)
// places frame i at our page's guest frame (the RAM page there goes back
// to Xen; Xen grows the table as frames are asked for). From then on
// granting is a memory write: { frame, domid } first, then flags (the flags
// make it valid). Grant entries name machine frames under PV (p2m lookup)
// and guest frames under PVH (address >> 12).
// Ending access is a compare-and-exchange on flags that fails while Xen
// reports the page mapped or being copied (GTF_reading / GTF_writing), so a
// page is never reused while the backend can still touch it. A reference
// can also be paused (access taken back, the reference kept) and resumed,
// for buffers the backend may write only while they are posted to it.
// Suspend (runtime/suspend.ts): under PV the frames are unmapped before
// (a page-table entry naming a Xen page cannot be saved) and mapped again
// after; a new domain's table is empty, so every entry we had given out
// reads as invalid there, and ending it just frees the reference.
import { hypercall, cmpxchg16, fence } from "../runtime/host";
import * as G from "../runtime/abi/grant_table";
import { DOMID_SELF } from "../runtime/abi/event_channel";
import { HYPERVISOR_grant_table_op, HYPERVISOR_update_va_mapping } from "../runtime/abi/xen";
import { XENMAPSPACE_grant_table } from "../runtime/abi/memory";
import { addToPhysmap } from "../runtime/hypercall";
import { startInfo } from "../runtime/start_info";
import { Resumable, registerResumable, RESUME_GRANT_TABLE } from "../runtime/suspend";
import { log } from "../runtime/log";

const PAGE_SIZE: usize = 4096;
const PTE_FLAGS: u64 = 0x1 | 0x2 | 0x20 | 0x40; // present, writable, accessed, dirty
const UVMF_INVLPG: i64 = 2;
// Frames we ask for: 4 pages = 2048 entries, plenty for a few devices'
// rings and buffers; clamped to what Xen allows.
const WANT_FRAMES: u32 = 4;

let table: usize = 0;
let nrEntries: u32 = 0;
let freeRefs = new Array<u32>();
let paused = new StaticArray<bool>(0);   // per reference: access taken back by pauseAccess
let given = new StaticArray<bool>(0);    // per reference: handed out by grantAccess, not yet ended
let inUse: i32 = 0;
let setupError: string | null = null;

const arg = memory.data(64, 8);
const frameList = memory.data(8 * 32, 8);

// Maps the grant table on first use. Returns an error message or null.
export function grantTableInit(): string | null {
  if (table != 0 || setupError !== null) return setupError;
  store<u16>(arg + G.GNTTAB_QUERY_SIZE_DOM, <u16>DOMID_SELF);
  const rc = hypercall(HYPERVISOR_grant_table_op, G.GNTTABOP_query_size, <i64>arg, 1, 0, 0);
  const status = load<i16>(arg + G.GNTTAB_QUERY_SIZE_STATUS);
  if (rc < 0 || status != G.GNTST_okay) return (setupError = "grant table: query_size failed (rc " + rc.toString() + ", status " + status.toString() + ")");
  let frames = load<u32>(arg + G.GNTTAB_QUERY_SIZE_MAX_NR_FRAMES);
  if (frames > WANT_FRAMES) frames = WANT_FRAMES;
  if (frames == 0) return (setupError = "grant table: Xen allows no frames");

  // Page-aligned memory of our own, where the frames go.
  const raw = heap.alloc(<usize>frames * PAGE_SIZE + PAGE_SIZE);
  const base = (raw + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
  const err = placeFrames(base, frames);
  if (err !== null) return (setupError = err);
  table = base;
  registerResumable(new TableResume(), RESUME_GRANT_TABLE);
  nrEntries = frames * <u32>G.GRANT_ENTRIES_PER_PAGE;
  paused = new StaticArray<bool>(<i32>nrEntries);
  given = new StaticArray<bool>(<i32>nrEntries);
  for (let ref = nrEntries - 1; ref >= <u32>G.GNTTAB_NR_RESERVED_ENTRIES; ref--) freeRefs.push(ref);
  return null;
}

// Puts the table's `frames` frames over the pages at `base`. Changes only
// where we see the table, not its entries, so it can run again for the
// same pages (after a resume, when the frames have to be placed anew).
function placeFrames(base: usize, frames: u32): string | null {
  if (startInfo().isPvh) {
    for (let i: u32 = 0; i < frames; i++) {
      const rc = addToPhysmap(XENMAPSPACE_grant_table, i, <u64>((base >> 12) + <usize>i));
      if (rc < 0) return "grant table: cannot place frame " + i.toString() + " (XENMEM_add_to_physmap rc " + rc.toString() + ")";
    }
    return null;
  }
  memory.fill(arg, 0, G.GNTTAB_SETUP_TABLE_SIZE);
  store<u16>(arg + G.GNTTAB_SETUP_TABLE_DOM, <u16>DOMID_SELF);
  store<u32>(arg + G.GNTTAB_SETUP_TABLE_NR_FRAMES, frames);
  store<u64>(arg + G.GNTTAB_SETUP_TABLE_FRAME_LIST, <u64>frameList);
  let rc = hypercall(HYPERVISOR_grant_table_op, G.GNTTABOP_setup_table, <i64>arg, 1, 0, 0);
  const setupStatus = load<i16>(arg + G.GNTTAB_SETUP_TABLE_STATUS);
  if (rc < 0 || setupStatus != G.GNTST_okay) return "grant table: setup_table failed (rc " + rc.toString() + ", status " + setupStatus.toString() + ")";
  for (let i: u32 = 0; i < frames; i++) {
    const mfn = load<u64>(frameList + (<usize>i << 3));
    rc = hypercall(HYPERVISOR_update_va_mapping, <i64>(base + <usize>i * PAGE_SIZE), <i64>((mfn << 12) | PTE_FLAGS), UVMF_INVLPG, 0, 0);
    if (rc < 0) return "grant table: cannot map frame " + i.toString() + " (rc " + rc.toString() + ")";
  }
  return null;
}

// Places the set-up table's frames again (for resume after save/restore or
// migration, where the frames move). Returns an error message or null.
export function grantTableRemap(): string | null {
  if (table == 0) return null;
  return placeFrames(table, nrEntries / <u32>G.GRANT_ENTRIES_PER_PAGE);
}

class TableResume extends Resumable {
  suspending(): void {
    if (startInfo().isPvh) return; // placed in the physmap: the toolstack leaves Xen's pages out
    const frames = nrEntries / <u32>G.GRANT_ENTRIES_PER_PAGE;
    for (let i: u32 = 0; i < frames; i++) hypercall(HYPERVISOR_update_va_mapping, <i64>(table + <usize>i * PAGE_SIZE), 0, UVMF_INVLPG, 0, 0);
  }
  resumed(newDomain: bool): void {
    const err = grantTableRemap();
    if (err !== null) log(err + " after resume");
  }
}

function entry(ref: u32): usize {
  return table + <usize>ref * G.GRANT_ENTRY_V1_SIZE;
}

// The frame a grant entry names for one of our pages: its machine frame
// from start_info's p2m list (PV), or its guest frame (PVH: Xen translates).
export function pageMfn(address: usize): u64 {
  const si = startInfo();
  if (si.isPvh) return <u64>(address >> 12);
  return load<u64>(si.p2mAddress + ((address >> 12) << 3));
}

// Grants domain `domid` access to machine frame `mfn`. Returns the grant
// reference, or -1 if the table is full or could not be set up.
export function grantAccess(domid: u16, mfn: u64, readonly: bool): i32 {
  if (grantTableInit() !== null || freeRefs.length == 0) return -1;
  const ref = freeRefs.pop();
  const e = entry(ref);
  store<u32>(e + G.GRANT_ENTRY_V1_FRAME, <u32>mfn);
  store<u16>(e + G.GRANT_ENTRY_V1_DOMID, domid);
  fence(); // frame and domid must be visible before the flags validate the entry
  store<u16>(e + G.GRANT_ENTRY_V1_FLAGS, <u16>(G.GTF_permit_access | (readonly ? G.GTF_readonly : 0)));
  unchecked(given[ref] = true);
  inUse++;
  return <i32>ref;
}

// Grants access to the page containing `address` (page-aligned memory of ours).
export function grantPage(domid: u16, address: usize, readonly: bool): i32 {
  return grantAccess(domid, pageMfn(address), readonly);
}

// Clears a live entry's flags unless Xen reports it mapped or being copied.
function takeBack(ref: u32): bool {
  const flags = entry(ref) + G.GRANT_ENTRY_V1_FLAGS;
  let old = <u32>load<u16>(flags);
  // Only we write entries (Xen adds GTF_reading/writing), so an invalid
  // entry we had granted is one a resume took away: nobody has access.
  if ((old & <u32>G.GTF_type_mask) == <u32>G.GTF_invalid && unchecked(given[ref])) return true;
  // Granted (not GTF_invalid), and neither mapped nor being copied.
  while ((old & <u32>G.GTF_type_mask) != <u32>G.GTF_invalid && (old & <u32>(G.GTF_reading | G.GTF_writing)) == 0) {
    if (cmpxchg16(flags, old, 0) == old) return true;
    old = <u32>load<u16>(flags);
  }
  return false;
}

function valid(ref: u32): bool {
  return table != 0 && ref < nrEntries && ref >= <u32>G.GNTTAB_NR_RESERVED_ENTRIES;
}

// Revokes a grant (a paused one too). Returns false, changing nothing,
// while the other domain still has the page mapped or is copying (try
// again later).
export function endAccess(ref: u32): bool {
  if (!valid(ref) || !unchecked(given[ref])) return false;
  if (unchecked(paused[ref])) {
    unchecked(paused[ref] = false);
  } else if (!takeBack(ref)) {
    return false;
  }
  unchecked(given[ref] = false);
  freeRefs.push(ref);
  inUse--;
  return true;
}

// Takes access back but keeps the reference (and its page, domain and
// mode) for resumeAccess. Returns false, changing nothing, while the other
// domain has the page mapped or is copying into it. Used for RX buffers:
// once the backend has answered one, it must not write it any more.
export function pauseAccess(ref: u32): bool {
  if (!valid(ref) || unchecked(paused[ref]) || !takeBack(ref)) return false;
  unchecked(paused[ref] = true);
  return true;
}

// Gives access again through a reference that pauseAccess took back.
export function resumeAccess(ref: u32, readonly: bool): void {
  if (!valid(ref) || !unchecked(paused[ref])) return;
  unchecked(paused[ref] = false);
  fence(); // the page's new owner sees our writes before the entry is valid again
  store<u16>(entry(ref) + G.GRANT_ENTRY_V1_FLAGS, <u16>(G.GTF_permit_access | (readonly ? G.GTF_readonly : 0)));
}

// Grants currently given out (for leak checks).
export function grantsInUse(): i32 {
  return inUse;
}

// The flags of an entry as Xen and the peer see them (for tests and diagnostics).
export function grantFlags(ref: u32): u16 {
  return table == 0 || ref >= nrEntries ? 0 : load<u16>(entry(ref) + G.GRANT_ENTRY_V1_FLAGS);
}
