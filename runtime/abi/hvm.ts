// HVM parameters (xen/include/public/hvm/hvm_op.h, hvm/params.h): where a
// PVH guest, which has no start_info page, finds its console and xenstore
// rings and their event channels. HYPERVISOR_hvm_op(HVMOP_get_param, &param).
export const HVMOP_set_param = 0;
export const HVMOP_get_param = 1;

// struct xen_hvm_param { domid_t domid; uint16_t pad; uint32_t index; uint64_t value; }
export const XEN_HVM_PARAM_DOMID = 0;
export const XEN_HVM_PARAM_INDEX = 4;
export const XEN_HVM_PARAM_VALUE = 8;
export const XEN_HVM_PARAM_SIZE = 16;

// Indices: the xenstore and console rings (guest frame numbers) and ports.
export const HVM_PARAM_STORE_PFN = 1;
export const HVM_PARAM_STORE_EVTCHN = 2;
export const HVM_PARAM_CONSOLE_PFN = 17;
export const HVM_PARAM_CONSOLE_EVTCHN = 18;
