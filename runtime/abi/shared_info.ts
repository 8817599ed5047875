// struct shared_info and struct vcpu_info, x86-64 (xen/include/public/xen.h,
// arch-x86/xen.h): the page Xen shares with the guest for event bits and
// time. tsxen uses vCPU 0 only.
//
//    0  vcpu_info[XEN_LEGACY_MAX_VCPUS = 32], 64 bytes each:
//         0 evtchn_upcall_pending (u8)   1 evtchn_upcall_mask (u8)
//         8 evtchn_pending_sel (u64)     16 arch.cr2   24 arch.pad
//        32 time: struct vcpu_time_info (below)
// 2048  evtchn_pending[64] (u64)
// 2560  evtchn_mask[64] (u64)
// 3072  wc_version, 3076 wc_sec, 3080 wc_nsec, 3084 wc_sec_hi (u32)
// 3088  arch: max_pfn, pfn_to_mfn_frame_list_list (u64; where the toolstack
//       finds a PV guest's p2m to save it: runtime/native/suspend.c)
export const VCPU_INFO_SIZE = 64;
export const VCPU_INFO_UPCALL_PENDING = 0;
export const VCPU_INFO_UPCALL_MASK = 1;
export const VCPU_INFO_PENDING_SEL = 8;
export const VCPU_INFO_CR2 = 16;
export const VCPU_INFO_TIME = 32;

// struct vcpu_time_info (pvclock): system time (ns since boot) =
//   system_time + ((tsc - tsc_timestamp) << tsc_shift) * tsc_to_system_mul >> 32
// read while version is even and unchanged.
export const VCPU_TIME_VERSION = 0;
export const VCPU_TIME_TSC_TIMESTAMP = 8;
export const VCPU_TIME_SYSTEM_TIME = 16;
export const VCPU_TIME_TSC_TO_SYSTEM_MUL = 24;
export const VCPU_TIME_TSC_SHIFT = 28;
export const VCPU_TIME_FLAGS = 29;
export const VCPU_TIME_SIZE = 32;

export const SHARED_INFO_EVTCHN_PENDING = 2048;
export const SHARED_INFO_EVTCHN_MASK = 2560;
export const SHARED_INFO_WC_VERSION = 3072;
export const SHARED_INFO_WC_SEC = 3076;
export const SHARED_INFO_WC_NSEC = 3080;
export const SHARED_INFO_WC_SEC_HI = 3084;
export const SHARED_INFO_ARCH_MAX_PFN = 3088;
export const SHARED_INFO_ARCH_P2M_FRAME_LIST_LIST = 3096;
export const XEN_LEGACY_MAX_VCPUS = 32;
