// Grant tables, version 1 (xen/include/public/grant_table.h):
// HYPERVISOR_grant_table_op(cmd, &args, count).
export const GNTTABOP_map_grant_ref = 0;
export const GNTTABOP_unmap_grant_ref = 1;
export const GNTTABOP_setup_table = 2;
export const GNTTABOP_copy = 5;
export const GNTTABOP_query_size = 6;

// struct gnttab_setup_table { domid_t dom; uint32_t nr_frames; int16_t status (out);
//                             XEN_GUEST_HANDLE(xen_pfn_t) frame_list; }
export const GNTTAB_SETUP_TABLE_DOM = 0;
export const GNTTAB_SETUP_TABLE_NR_FRAMES = 4;
export const GNTTAB_SETUP_TABLE_STATUS = 8;
export const GNTTAB_SETUP_TABLE_FRAME_LIST = 16;
export const GNTTAB_SETUP_TABLE_SIZE = 24;

// struct gnttab_query_size { domid_t dom; uint32_t nr_frames, max_nr_frames (out); int16_t status (out); }
export const GNTTAB_QUERY_SIZE_DOM = 0;
export const GNTTAB_QUERY_SIZE_NR_FRAMES = 4;
export const GNTTAB_QUERY_SIZE_MAX_NR_FRAMES = 8;
export const GNTTAB_QUERY_SIZE_STATUS = 12;
export const GNTTAB_QUERY_SIZE_SIZE = 16;

// struct grant_entry_v1 { uint16_t flags; domid_t domid; uint32_t frame; }
export const GRANT_ENTRY_V1_FLAGS = 0;
export const GRANT_ENTRY_V1_DOMID = 2;
export const GRANT_ENTRY_V1_FRAME = 4;
export const GRANT_ENTRY_V1_SIZE = 8;
export const GRANT_ENTRIES_PER_PAGE = 512;

// grant_entry_v1.flags
export const GTF_invalid = 0;
export const GTF_permit_access = 1;
export const GTF_type_mask = 3;
export const GTF_readonly = 4;    // the peer may map/copy read-only
export const GTF_reading = 8;     // set by Xen while the peer has it mapped or is copying from it
export const GTF_writing = 16;    // set by Xen while the peer has it mapped writable or is copying to it

// Entries 0..7 are reserved for the toolstack (console, xenstore).
export const GNTTAB_NR_RESERVED_ENTRIES = 8;

// Status codes (GNTST_*)
export const GNTST_okay = 0;
export const GNTST_general_error = -1;
export const GNTST_bad_domain = -2;
export const GNTST_bad_gntref = -3;
export const GNTST_bad_handle = -4;
export const GNTST_bad_virt_addr = -5;
export const GNTST_permission_denied = -8;
export const GNTST_bad_page = -9;
export const GNTST_bad_copy_arg = -10;

// Entries the toolstack fills in for the console and xenstore pages.
export const GNTTAB_RESERVED_CONSOLE = 0;
export const GNTTAB_RESERVED_XENSTORE = 1;
