// struct start_info, x86-64 layout (xen/include/public/xen.h). Offsets in
// bytes; every field is 8 bytes wide unless its name says otherwise.
//
//   0   magic[32]          "xen-<version>-x86_64"
//  32   nr_pages           pages of RAM
//  40   shared_info        machine address of shared_info
//  48   flags (u32)        SIF_*
//  56   store_mfn          xenstore ring page (machine frame)
//  64   store_evtchn (u32)
//  72   console.domU.mfn   console ring page (machine frame)
//  80   console.domU.evtchn (u32)
//  88   pt_base            virtual address of the bootstrap L4 table
//  96   nr_pt_frames
// 104   mfn_list           virtual address of the p2m array (pfn -> mfn)
// 112   mod_start, 120 mod_len
// 128   cmd_line[1024]     NUL-terminated, from xl's `extra=` / `cmdline=`
// 1152  first_p2m_pfn, 1160 nr_p2m_frames
export const START_INFO_MAGIC = 0;
export const START_INFO_MAGIC_LEN = 32;
export const START_INFO_NR_PAGES = 32;
export const START_INFO_SHARED_INFO = 40;
export const START_INFO_FLAGS = 48;
export const START_INFO_STORE_MFN = 56;
export const START_INFO_STORE_EVTCHN = 64;
export const START_INFO_CONSOLE_MFN = 72;
export const START_INFO_CONSOLE_EVTCHN = 80;
export const START_INFO_PT_BASE = 88;
export const START_INFO_NR_PT_FRAMES = 96;
export const START_INFO_MFN_LIST = 104;
export const START_INFO_MOD_START = 112;
export const START_INFO_MOD_LEN = 120;
export const START_INFO_CMD_LINE = 128;
export const MAX_GUEST_CMDLINE = 1024;
export const START_INFO_FIRST_P2M_PFN = 1152;
export const START_INFO_NR_P2M_FRAMES = 1160;
export const START_INFO_SIZE = 1168;

// The only platform tsxen runs on; Xen writes "xen-3.0-x86_64" for every
// 64-bit PV guest, whatever its own version.
export const START_INFO_MAGIC_PREFIX = "xen-3.0-x86_64";
