// vCPU operations tsxen's sim implements (xen/include/public/vcpu.h):
// HYPERVISOR_vcpu_op(cmd, vcpuid, &arg).
export const VCPUOP_set_singleshot_timer = 8;
export const VCPUOP_stop_singleshot_timer = 9;
export const VCPU_SSHOTTMR_future = 1;

// struct vcpu_set_singleshot_timer { uint64_t timeout_abs_ns; uint32_t flags; }
export const VCPU_SET_SINGLESHOT_TIMER_TIMEOUT_ABS_NS = 0;
export const VCPU_SET_SINGLESHOT_TIMER_FLAGS = 8;
export const VCPU_SET_SINGLESHOT_TIMER_SIZE = 16;
