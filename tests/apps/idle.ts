// Test app: waits for the toolstack; reports the shutdown request it gets.
import { log, runOnce, onShutdownRequest, ShutdownHandler, SHUTDOWN_reboot } from "tsxen";

class Report extends ShutdownHandler {
  onShutdown(reason: u32): void { log("idle: asked to " + (reason == SHUTDOWN_reboot ? "reboot" : "power off")); }
}

export function main(): void {
  onShutdownRequest(new Report());
  log("idle: waiting");
  for (;;) runOnce(0);
}
