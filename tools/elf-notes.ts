// Reads the Xen ELF notes of a tsxen image (xen/include/public/elfnote.h),
// so that tsxen build can verify what it linked and tests can inspect
// images without binutils. (binutils 2.40's `readelf -n` lists Xen's notes
// by number only: type 0x1 "NT_VERSION" is XEN_ELFNOTE_ENTRY, "Unknown note
// type: (0x00000012)" is XEN_ELFNOTE_PHYS32_ENTRY.)
export const XEN_ELFNOTE = {
  ENTRY: 1, HYPERCALL_PAGE: 2, VIRT_BASE: 3, PADDR_OFFSET: 4, XEN_VERSION: 5,
  GUEST_OS: 6, GUEST_VERSION: 7, LOADER: 8, FEATURES: 10, SUSPEND_CANCEL: 14, PHYS32_ENTRY: 18,
} as const;

export interface XenNotes {
  entry: bigint;                     // the ELF header's e_entry
  notes: Map<number, Buffer>;        // note type -> descriptor
  load: { vaddr: bigint; paddr: bigint; memsz: bigint }[]; // PT_LOAD segments
}

export class ElfError extends Error {}

const PT_LOAD = 1;
const PT_NOTE = 4;

export function readXenNotes(image: Buffer): XenNotes {
  if (image.length < 64 || image.readUInt32BE(0) !== 0x7f454c46) throw new ElfError("not an ELF file");
  if (image[4] !== 2 || image[5] !== 1) throw new ElfError("not a little-endian ELF64 file");
  if (image.readUInt16LE(18) !== 62) throw new ElfError("not an x86-64 ELF file");
  const entry = image.readBigUInt64LE(24);
  const phoff = Number(image.readBigUInt64LE(32));
  const phentsize = image.readUInt16LE(54);
  const phnum = image.readUInt16LE(56);
  const notes = new Map<number, Buffer>();
  const load: XenNotes["load"] = [];
  for (let i = 0; i < phnum; i++) {
    const ph = phoff + i * phentsize;
    if (ph + 56 > image.length) throw new ElfError("program header past the end of the file");
    if (image.readUInt32LE(ph) === PT_LOAD) {
      load.push({ vaddr: image.readBigUInt64LE(ph + 16), paddr: image.readBigUInt64LE(ph + 24), memsz: image.readBigUInt64LE(ph + 40) });
    }
    if (image.readUInt32LE(ph) !== PT_NOTE) continue;
    const start = Number(image.readBigUInt64LE(ph + 8));
    const end = start + Number(image.readBigUInt64LE(ph + 32));
    if (end > image.length) throw new ElfError("PT_NOTE past the end of the file");
    for (let at = start; at + 12 <= end; ) {
      const namesz = image.readUInt32LE(at), descsz = image.readUInt32LE(at + 4), type = image.readUInt32LE(at + 8);
      const name = image.subarray(at + 12, at + 12 + namesz).toString("latin1").replace(/\0+$/, "");
      const descAt = at + 12 + ((namesz + 3) & ~3);
      if (descAt + descsz > end) throw new ElfError("note runs past its segment");
      if (name === "Xen") notes.set(type, image.subarray(descAt, descAt + descsz));
      at = descAt + ((descsz + 3) & ~3);
    }
  }
  return { entry, notes, load };
}

export const noteString = (n: XenNotes, type: number) => n.notes.get(type)?.toString("latin1").replace(/\0+$/, "");
export const noteNumber = (n: XenNotes, type: number) => {
  const d = n.notes.get(type);
  return d && d.length === 8 ? d.readBigUInt64LE(0) : undefined;
};

// The 32-bit physical PVH entry point, or undefined.
export const phys32Entry = (n: XenNotes) => {
  const d = n.notes.get(XEN_ELFNOTE.PHYS32_ENTRY);
  return d && d.length === 4 ? d.readUInt32LE(0) : undefined;
};

// The checks tsxen build runs on every image it writes: the notes that make
// it a PV kernel and the one that makes it a PVH kernel. Returns problems.
export function checkImage(image: Buffer): string[] {
  const n = readXenNotes(image);
  const problems: string[] = [];
  if (noteString(n, XEN_ELFNOTE.GUEST_OS) !== "tsxen") problems.push("GUEST_OS note is not 'tsxen'");
  if (noteString(n, XEN_ELFNOTE.XEN_VERSION) !== "xen-3.0") problems.push("XEN_VERSION note is not 'xen-3.0'");
  if (noteString(n, XEN_ELFNOTE.LOADER) !== "generic") problems.push("LOADER note is not 'generic'");
  if (noteNumber(n, XEN_ELFNOTE.VIRT_BASE) !== 0n) problems.push("VIRT_BASE note is not 0");
  if (noteNumber(n, XEN_ELFNOTE.PADDR_OFFSET) !== 0n) problems.push("PADDR_OFFSET note is not 0");
  if (noteNumber(n, XEN_ELFNOTE.ENTRY) !== n.entry) problems.push("ENTRY note differs from the ELF entry point");
  const hypercallPage = noteNumber(n, XEN_ELFNOTE.HYPERCALL_PAGE);
  if (hypercallPage === undefined || hypercallPage % 4096n !== 0n) problems.push("HYPERCALL_PAGE note missing or not page-aligned");
  if (!noteString(n, XEN_ELFNOTE.FEATURES)) problems.push("FEATURES note missing");
  // Without it a cancelled suspend (xl save -c) would resume the guest as if in a new domain.
  if (n.notes.get(XEN_ELFNOTE.SUSPEND_CANCEL)?.readUInt32LE(0) !== 1) problems.push("SUSPEND_CANCEL note missing or not 1");
  // PVH: Xen loads the image at its physical addresses (= virtual here) and
  // jumps to this 32-bit address with paging off, so it must lie inside the image.
  const pvh = phys32Entry(n);
  const inImage = (a: bigint) => n.load.some((s) => s.paddr === s.vaddr && a >= s.paddr && a < s.paddr + s.memsz);
  if (pvh === undefined) problems.push("PHYS32_ENTRY note (PVH entry point) missing");
  else if (!inImage(BigInt(pvh))) problems.push("PHYS32_ENTRY note points outside the loaded image");
  return problems;
}
