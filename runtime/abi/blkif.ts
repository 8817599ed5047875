// The blkif protocol (xen/include/public/io/blkif.h): request and response
// slots of the block ring, the operations, status codes, the discard and
// indirect request variants and the VDISK_* bits of the backend's `info`.
// Sector quantities on the wire are 512-byte units (we never negotiate
// feature-large-sector-size). Offsets are for x86_64 (protocol x86_64-abi).

// struct blkif_request_segment { grant_ref_t gref; uint8_t first_sect, last_sect; } (+2 pad)
export const BLKIF_SEG_GREF = 0;
export const BLKIF_SEG_FIRST_SECT = 4;
export const BLKIF_SEG_LAST_SECT = 5;
export const BLKIF_SEGMENT_SIZE = 8;

// struct blkif_request { uint8_t operation, nr_segments; uint16_t handle;
//   (4 pad) uint64_t id, sector_number; struct blkif_request_segment seg[11]; }
export const BLKIF_REQ_OPERATION = 0;
export const BLKIF_REQ_NR_SEGMENTS = 1;
export const BLKIF_REQ_HANDLE = 2;
export const BLKIF_REQ_ID = 8;
export const BLKIF_REQ_SECTOR_NUMBER = 16;
export const BLKIF_REQ_SEG = 24;
export const BLKIF_REQUEST_SIZE = 112; // also the ring slot size (requests are the larger member)

// struct blkif_request_discard { uint8_t operation, flag; uint16_t handle;
//   (4 pad) uint64_t id, sector_number, nr_sectors; }
export const BLKIF_DISCARD_FLAG = 1;
export const BLKIF_DISCARD_HANDLE = 2;
export const BLKIF_DISCARD_ID = 8;
export const BLKIF_DISCARD_SECTOR_NUMBER = 16;
export const BLKIF_DISCARD_NR_SECTORS = 24;
export const BLKIF_REQUEST_DISCARD_SIZE = 32;
export const BLKIF_DISCARD_SECURE = 1;

// struct blkif_request_indirect { uint8_t operation, indirect_op; uint16_t nr_segments;
//   (4 pad) uint64_t id, sector_number; uint16_t handle; (2 pad) grant_ref_t indirect_grefs[8]; } (+4 pad)
// The indirect pages hold arrays of struct blkif_request_segment.
export const BLKIF_INDIRECT_OPERATION = 0;
export const BLKIF_INDIRECT_OP = 1;
export const BLKIF_INDIRECT_NR_SEGMENTS = 2;
export const BLKIF_INDIRECT_ID = 8;
export const BLKIF_INDIRECT_SECTOR_NUMBER = 16;
export const BLKIF_INDIRECT_HANDLE = 24;
export const BLKIF_INDIRECT_GREFS = 28;
export const BLKIF_REQUEST_INDIRECT_SIZE = 64;
export const BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST = 8;
export const BLKIF_SEGMENTS_PER_INDIRECT_FRAME = 512; // 4096 / sizeof(struct blkif_request_segment)

// struct blkif_response { uint64_t id; uint8_t operation; (1 pad) int16_t status; } (+4 pad)
export const BLKIF_RSP_ID = 0;
export const BLKIF_RSP_OPERATION = 8;
export const BLKIF_RSP_STATUS = 10;
export const BLKIF_RESPONSE_SIZE = 16;

// Operations
export const BLKIF_OP_READ = 0;
export const BLKIF_OP_WRITE = 1;
export const BLKIF_OP_WRITE_BARRIER = 2;
export const BLKIF_OP_FLUSH_DISKCACHE = 3;
export const BLKIF_OP_RESERVED_1 = 4;
export const BLKIF_OP_DISCARD = 5;
export const BLKIF_OP_INDIRECT = 6;

export const BLKIF_MAX_SEGMENTS_PER_REQUEST = 11;

// Response status
export const BLKIF_RSP_EOPNOTSUPP = -2;
export const BLKIF_RSP_ERROR = -1;
export const BLKIF_RSP_OKAY = 0;

// Slots per ring: __RING_SIZE = round_down_pow2((bytes - 64) / 112). One
// page gives 32; 2^order pages give 32 << order (pinned here for 16 pages,
// the largest ring Linux's blkback accepts, max-ring-page-order 4).
export const BLKIF_RING_SIZE = 32;
export const BLKIF_RING_SIZE_16_PAGES = 512;

// The backend's `info` bits
export const VDISK_CDROM = 1;
export const VDISK_REMOVABLE = 2;
export const VDISK_READONLY = 4;

// xen/io/protocols.h XEN_IO_PROTO_ABI_X86_64: the frontend's `protocol` key.
export const XEN_IO_PROTO_ABI_X86_64 = "x86_64-abi";
