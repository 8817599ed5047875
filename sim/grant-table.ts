// A domain's grant table, version 1, as Xen keeps it for a PV guest
// (xen/common/grant_table.c; ABI xen/include/public/grant_table.h,
// constants in runtime/abi/grant_table.ts).
//
// The table's frames are Xen's pages: GNTTABOP_setup_table hands the guest
// their machine frame numbers and the guest maps them into its address
// space with update_va_mapping. From then on the guest writes
// grant_entry_v1 entries with plain stores, and Xen reads them from there,
// so here a frame lives either in a sim-side buffer (not mapped yet) or at
// the guest address it was mapped at, and entries are read from wherever
// it lives. Peers (dom0's backends) map or copy granted pages with the same
// checks as Xen, and Xen's GTF_reading / GTF_writing bits appear in the
// guest's entry while a peer holds the page.
import * as G from "../runtime/abi/grant_table.ts";


const PAGE_SIZE = 4096;
const ENTRIES_PER_FRAME = G.GRANT_ENTRIES_PER_PAGE;
// Machine frames of the grant-table frames. They are not guest RAM: the
// guest's own mfns (layout.ts, pfn ^ 0x5a5a5 for pfn < 2^18) all lie in
// [0x40000, 0x80000), so these never collide with one.
export const GRANT_FRAME_MFN_BASE = 0x100000;
export const DEFAULT_MAX_GRANT_FRAMES = 32;

// A refused grant operation; `status` is the GNTST_* code Xen would return.
export class GrantError extends Error {
  constructor(readonly status: number, message: string) {
    super(`${message} (GNTST ${status})`);
  }
}

export interface GrantMapping {
  readonly ref: number;
  readonly readonly: boolean;
  readonly address: number; // the granted page, as an address in the granting guest's memory
  unmap(): void;
}

export interface GrantEntry {
  flags: number;
  domid: number;
  frame: number;
}

export interface GrantTableOptions {
  view: () => DataView;                           // the owning guest's memory
  frameAddress: (mfn: number) => number | null;   // address of a page the guest owns, or null
  maxFrames?: number;
}

// Xen's active_grant_entry: pin counts and the frame resolved at first pin
// (later changes to the entry's frame do not move an existing mapping).
interface ActiveEntry {
  domid: number;
  readers: number;
  writers: number;
  address: number;
}

type FrameHome = { data: Uint8Array } | { va: number };

export class GrantTable {
  readonly maxFrames: number;
  private readonly frames: FrameHome[] = [];
  private readonly active = new Map<number, ActiveEntry>();
  private mappings = 0;

  constructor(private readonly opts: GrantTableOptions) {
    this.maxFrames = opts.maxFrames ?? DEFAULT_MAX_GRANT_FRAMES;
    this.grow(1); // Xen gives every domain one frame from the start
  }

  get nrFrames(): number {
    return this.frames.length;
  }

  get nrEntries(): number {
    return this.frames.length * ENTRIES_PER_FRAME;
  }

  frameMfn(index: number): number {
    return GRANT_FRAME_MFN_BASE + index;
  }

  // The index of the set-up frame with machine frame `mfn`, or -1.
  frameIndex(mfn: number): number {
    const index = mfn - GRANT_FRAME_MFN_BASE;
    return index >= 0 && index < this.frames.length ? index : -1;
  }

  // Where frame `index` is mapped in the guest, or null if it is not.
  frameAddress(index: number): number | null {
    const home = this.frames[index];
    return home && "va" in home ? home.va : null;
  }

  // gnttab_grow_table: new frames start zeroed (every entry GTF_invalid).
  grow(nrFrames: number): boolean {
    if (nrFrames > this.maxFrames) return false;
    while (this.frames.length < nrFrames) this.frames.push({ data: new Uint8Array(PAGE_SIZE) });
    return true;
  }

  // update_va_mapping of frame `index` at guest address `va`: from now on the
  // guest's page at `va` is the frame. Its current contents move there (a
  // sim cannot alias two addresses, so a frame lives at its latest mapping).
  placeFrame(index: number, va: number): void {
    const home = this.frames[index];
    if ("va" in home && home.va === va) return;
    const contents = ("va" in home ? this.guestPage(home.va) : home.data).slice();
    this.guestPage(va).set(contents);
    this.frames[index] = { va };
  }

  // Unmapping the frame mapped at `va` (update_va_mapping with a non-present
  // entry): its contents go back to Xen's side. Returns false if no frame is there.
  unplaceAt(va: number): boolean {
    const index = this.frames.findIndex((home) => "va" in home && home.va === va);
    if (index < 0) return false;
    this.frames[index] = { data: this.guestPage(va).slice() };
    return true;
  }

  readEntry(ref: number): GrantEntry {
    const [v, at] = this.locate(ref);
    return {
      flags: v.getUint16(at + G.GRANT_ENTRY_V1_FLAGS, true),
      domid: v.getUint16(at + G.GRANT_ENTRY_V1_DOMID, true),
      frame: v.getUint32(at + G.GRANT_ENTRY_V1_FRAME, true),
    };
  }

  // For the toolstack's reserved entries (xc_dom_gnttab_seed) and tests.
  writeEntry(ref: number, entry: GrantEntry): void {
    const [v, at] = this.locate(ref);
    v.setUint32(at + G.GRANT_ENTRY_V1_FRAME, entry.frame, true);
    v.setUint16(at + G.GRANT_ENTRY_V1_DOMID, entry.domid, true);
    v.setUint16(at + G.GRANT_ENTRY_V1_FLAGS, entry.flags, true);
  }

  // GNTTABOP_map_grant_ref by domain `domid` (a host mapping).
  map(domid: number, ref: number, readonly: boolean): GrantMapping {
    const act = this.acquire(domid, ref, readonly);
    this.mappings++;
    let mapped = true;
    return {
      ref, readonly, address: act.address,
      unmap: () => {
        if (!mapped) throw new GrantError(G.GNTST_bad_handle, `grant ref ${ref} is already unmapped`);
        mapped = false;
        this.mappings--;
        this.release(ref, act, readonly);
      },
    };
  }

  // GNTTABOP_copy with this table's grant on one side: the page is pinned
  // (GTF_reading, and GTF_writing when `write`) only while `use` runs.
  copy<T>(domid: number, ref: number, offset: number, length: number, write: boolean, use: (address: number) => T): T {
    if (!Number.isInteger(offset) || !Number.isInteger(length) || offset < 0 || length < 0 || offset + length > PAGE_SIZE) {
      throw new GrantError(G.GNTST_bad_copy_arg, `copy of ${length} bytes at offset ${offset} crosses the page`);
    }
    const act = this.acquire(domid, ref, !write);
    try {
      return use(act.address + offset);
    } finally {
      this.release(ref, act, !write);
    }
  }

  // Host mappings currently held by peers (for leak checks).
  activeMappings(): number {
    return this.mappings;
  }

  // _set_status_v1 + the first pin's frame lookup: every check Xen makes,
  // with Xen's status codes (a bad entry is GNTST_general_error there too;
  // the message says which check failed).
  private acquire(domid: number, ref: number, readonly: boolean): ActiveEntry {
    if (!Number.isInteger(ref) || ref < 0 || ref >= this.nrEntries) {
      throw new GrantError(G.GNTST_bad_gntref, `grant ref ${ref} out of range (${this.nrEntries} entries)`);
    }
    let act = this.active.get(ref);
    if (act && act.domid !== domid) throw new GrantError(G.GNTST_general_error, `grant ref ${ref} is in use by domain ${act.domid}`);
    if (!act || (!readonly && act.writers === 0)) {
      const entry = this.readEntry(ref);
      this.checkEntry(ref, entry, domid, readonly);
      if (!act) act = { domid, readers: 0, writers: 0, address: this.resolve(ref, entry.frame) };
    }
    if (readonly) act.readers++;
    else act.writers++;
    this.active.set(ref, act);
    this.syncFlags(ref, act);
    return act;
  }

  private checkEntry(ref: number, entry: GrantEntry, domid: number, readonly: boolean): void {
    const hex = `0x${entry.flags.toString(16)}`;
    if ((entry.flags & G.GTF_type_mask) !== G.GTF_permit_access) {
      throw new GrantError(G.GNTST_general_error, `grant ref ${ref} does not permit access (flags ${hex}: revoked or never granted)`);
    }
    if (entry.domid !== domid) {
      throw new GrantError(G.GNTST_general_error, `grant ref ${ref} is granted to domain ${entry.domid}, not ${domid}`);
    }
    if (!readonly && (entry.flags & G.GTF_readonly)) {
      throw new GrantError(G.GNTST_general_error, `grant ref ${ref} is read-only (flags ${hex}); writable access refused`);
    }
  }

  private resolve(ref: number, frame: number): number {
    const address = this.opts.frameAddress(frame);
    if (address === null) throw new GrantError(G.GNTST_bad_page, `grant ref ${ref}: frame 0x${frame.toString(16)} is not a page of the granting domain`);
    return address;
  }

  private release(ref: number, act: ActiveEntry, readonly: boolean): void {
    if (readonly) act.readers--;
    else act.writers--;
    this.syncFlags(ref, act);
    if (act.readers + act.writers === 0) this.active.delete(ref);
  }

  // GTF_reading while any pin is held, GTF_writing while a writable one is;
  // the guest's other flag bits are left alone.
  private syncFlags(ref: number, act: ActiveEntry): void {
    const [v, at] = this.locate(ref);
    let flags = v.getUint16(at + G.GRANT_ENTRY_V1_FLAGS, true) & ~(G.GTF_reading | G.GTF_writing);
    if (act.readers + act.writers > 0) flags |= G.GTF_reading;
    if (act.writers > 0) flags |= G.GTF_writing;
    v.setUint16(at + G.GRANT_ENTRY_V1_FLAGS, flags, true);
  }

  // The DataView and offset holding entry `ref`.
  private locate(ref: number): [DataView, number] {
    const home = this.frames[Math.floor(ref / ENTRIES_PER_FRAME)];
    if (!home) throw new GrantError(G.GNTST_bad_gntref, `grant ref ${ref} out of range (${this.nrEntries} entries)`);
    const offset = (ref % ENTRIES_PER_FRAME) * G.GRANT_ENTRY_V1_SIZE;
    if ("va" in home) return [this.opts.view(), home.va + offset];
    return [new DataView(home.data.buffer, home.data.byteOffset, home.data.byteLength), offset];
  }

  private guestPage(va: number): Uint8Array {
    const v = this.opts.view();
    return new Uint8Array(v.buffer, va, PAGE_SIZE);
  }
}
