// The runtime's grant table (grant-tables/index.ts) against the sim's
// permission checks: dom0 maps what it was granted, a read-only grant
// refuses a writable mapping, end_access waits until dom0 unmaps, and
// nothing is left granted or mapped. In both boot modes: the table is
// mapped with update_va_mapping (PV) or placed with XENMEM_add_to_physmap
// (PVH), and grants name machine frames (PV) or guest frames (PVH).
import test from "tape";
import { GrantError } from "../../sim/grant-table.ts";
import * as G from "../../runtime/abi/grant_table.ts";
import { willBuild, startedGuest } from "./helpers.ts";

// The apps these tests build, compiled ahead of time (tests/sim/helpers.ts).
willBuild("tests/apps/grant-probe.ts");

for (const mode of ["pv", "pvh"] as const) test(`grants [${mode}]: dom0 maps, the guest cannot revoke until dom0 unmaps, read-only is enforced, nothing leaks`, async (t) => {
  const g = await startedGuest("tests/apps/grant-probe.ts", { mode });
  const refs: Record<string, number> = {};
  const notes: string[] = [];
  g.xenstore.watch("/local/domain/1/data/rw-ref", "t", () => {
    if (!g.xenstore.exists("/local/domain/1/data/rw-ref")) return;
    refs.rw = Number(g.xenstore.read("/local/domain/1/data/rw-ref"));
    refs.ro = Number(g.xenstore.read("/local/domain/1/data/ro-ref"));
    try {
      g.dom0.mapGrant(1, refs.ro, { readonly: false });
      notes.push("ro mapped writable");
    } catch (e) {
      notes.push(`ro writable: ${e instanceof GrantError ? e.status : e}`);
    }
    const m = g.dom0.mapGrant(1, refs.rw, { readonly: false });
    const v = g.view();
    notes.push(`rw first word ${v.getUint32(m.address, true).toString(16)}`);
    v.setUint32(m.address, 0x600dcafe, true);
    notes.push(`flags while mapped ${g.hv.grants.readEntry(refs.rw).flags & (G.GTF_reading | G.GTF_writing)}`);
    g.xenstore.write("/local/domain/1/data/mapped", "1");
    g.dom0.after(50_000_000, () => m.unmap()); // 50 ms of virtual time later
  });
  const r = await g.run();
  t.equal(r.reason, "poweroff");
  t.deepEqual(notes, [`ro writable: ${G.GNTST_general_error}`, "rw first word feedf00d", `flags while mapped ${G.GTF_reading | G.GTF_writing}`]);
  const lines = r.console.trim().split("\n");
  t.match(lines[1], /^grant: end_access refused [1-9]\d* times while mapped, then succeeded$/, lines[1]);
  t.equal(lines[2], "grant: dom0 wrote 600dcafe", "dom0's write through the mapping reached the guest's page");
  t.equal(lines[3], "grant: read-only end_access ok");
  t.equal(lines[4], "grant: ending again refused, in use 0", "a revoked ref cannot be ended twice; no grant left");
  t.equal(g.dom0.activeGrantMappings(), 0, "no mapping left in dom0");
  t.throws(() => g.dom0.mapGrant(1, refs.rw, { readonly: true }), GrantError, "a revoked ref cannot be mapped");
  t.ok(g.hv.grants.nrFrames >= 1 && g.hv.grants.frameAddress(0) !== null, "the table's first frame lies in guest memory");
});
