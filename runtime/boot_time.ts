// The guest's own boot time: from the boot shim's first instruction (its
// TSC, kept by the host: HOSTOP_BOOT_TSC in tools/host-interface.ts) to the
// call of the app's main() (the generated entry marks it), in nanoseconds
// by the pvclock's TSC scale (xen.h struct vcpu_time_info). It leaves out
// what the toolstack does before the first instruction.
import { hypercall, rdtsc, HOSTOP_BOOT_TSC } from "./host";
import { tscToNs } from "./time";

let mainTsc: u64 = 0;

// Called by the generated entry just before main().
export function markMain(): void {
  if (mainTsc == 0) mainTsc = rdtsc();
}

// Nanoseconds from the first instruction to main(), or 0 if unknown.
export function bootTimeNs(): u64 {
  const boot = <u64>hypercall(HOSTOP_BOOT_TSC, 0, 0, 0, 0, 0);
  if (boot == 0 || mainTsc <= boot) return 0;
  return tscToNs(mainTsc - boot);
}
