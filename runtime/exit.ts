// Ending the guest: flush the console so the last lines reach xenconsoled,
// then SCHEDOP_shutdown — poweroff for code 0, crash otherwise (xl's
// on_poweroff / on_crash then decide what happens to the domain).
import { consoleFlush } from "./console";
import { schedShutdown } from "./hypercall";
import { SHUTDOWN_poweroff, SHUTDOWN_crash } from "./abi/xen";

// Flushes the console and shuts the domain down with `reason` (SHUTDOWN_*).
export function shutdownWith(reason: u32): void {
  consoleFlush();
  for (;;) schedShutdown(reason); // SCHEDOP_shutdown does not return
}

export function exit(code: i32): void {
  shutdownWith(code == 0 ? SHUTDOWN_poweroff : SHUTDOWN_crash);
}
