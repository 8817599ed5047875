// Memory operations tsxen uses (xen/include/public/memory.h):
// HYPERVISOR_memory_op(XENMEM_add_to_physmap, &xatp) places a Xen-owned
// frame (shared_info, a grant-table frame) at a guest frame of a translated
// (PVH) guest, replacing the RAM page there.
export const XENMEM_add_to_physmap = 7;
export const XENMAPSPACE_shared_info = 0;
export const XENMAPSPACE_grant_table = 1;

// struct xen_add_to_physmap { domid_t domid; uint16_t size; unsigned int space;
//                             xen_ulong_t idx; xen_pfn_t gpfn; }
export const XEN_ADD_TO_PHYSMAP_DOMID = 0;
export const XEN_ADD_TO_PHYSMAP_SIZE_FIELD = 2;
export const XEN_ADD_TO_PHYSMAP_SPACE = 4;
export const XEN_ADD_TO_PHYSMAP_IDX = 8;
export const XEN_ADD_TO_PHYSMAP_GPFN = 16;
export const XEN_ADD_TO_PHYSMAP_SIZE = 24;
