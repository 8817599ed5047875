// xl shutdown / xl reboot as the sim's toolstack writes them into
// control/shutdown: the guest acknowledges (clears the key), runs the app's
// handler and shuts down with the requested reason; it advertises
// feature-poweroff/feature-reboot; a request it does not support is ignored.
// Powering off and rebooting run in both boot modes.
import test from "tape";
import { willBuild, startedGuest } from "./helpers.ts";

// The apps these tests build, compiled ahead of time (tests/sim/helpers.ts).
willBuild("tests/apps/idle.ts");

async function request(what: string, then?: string, mode: "pv" | "pvh" = "pv") {
  const g = await startedGuest("tests/apps/idle.ts", { mode });
  const key = "/local/domain/1/control/shutdown";
  g.xenstore.mkdir("/local/domain/1/control");
  g.xenstore.write(key, "");
  g.dom0.after(100_000_000, () => g.xenstore.write(key, what));
  if (then) g.dom0.after(200_000_000, () => g.xenstore.write(key, then));
  const r = await g.run();
  return { r, cleared: g.xenstore.read(key), features: ["poweroff", "reboot"].map((f) => g.xenstore.read(`/local/domain/1/control/feature-${f}`)) };
}

for (const mode of ["pv", "pvh"] as const) test(`lifecycle [${mode}]: control/shutdown = poweroff powers the guest off, acknowledged`, async (t) => {
  const { r, cleared, features } = await request("poweroff", undefined, mode);
  t.equal(r.reason, "poweroff");
  t.deepEqual(r.console.trim().split("\n"), ["idle: waiting", "idle: asked to power off"]);
  t.equal(cleared, "", "the guest cleared control/shutdown (libxl waits for that)");
  t.deepEqual(features, ["1", "1"], "feature-poweroff and feature-reboot advertised");
});

for (const mode of ["pv", "pvh"] as const) test(`lifecycle [${mode}]: control/shutdown = reboot shuts down with reason reboot`, async (t) => {
  const { r } = await request("reboot", undefined, mode);
  t.equal(r.reason, "reboot");
  t.ok(r.console.includes("idle: asked to reboot"));
});

test("lifecycle: an unknown request is ignored; a later poweroff works", async (t) => {
  const { r } = await request("hibernate", "poweroff");
  t.equal(r.reason, "poweroff");
  t.deepEqual(r.console.trim().split("\n"), ["idle: waiting", "idle: asked to power off"]);
});
