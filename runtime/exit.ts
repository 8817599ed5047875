// Ending the guest: flush the console so the last lines reach xenconsoled,
// then SCHEDOP_shutdown — poweroff for code 0, crash otherwise (xl's
// on_poweroff / on_crash then decide what happens to the domain).
import { consoleFlush } from "./console";
import { schedShutdown } from "./hypercall";
import { SHUTDOWN_poweroff, SHUTDOWN_crash } from "./abi/xen";

export function exit(code: i32): void {
  consoleFlush();
  const reason = code == 0 ? SHUTDOWN_poweroff : SHUTDOWN_crash;
  for (;;) schedShutdown(reason); // SCHEDOP_shutdown does not return
}
