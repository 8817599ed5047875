// Under real Xen: hot-plug both ways with Linux netback and blkback. The
// guest (tests/apps/hotplug.ts) echoes UDP on every vif and keeps writing
// and reading its disk back. dom0 pings it and checks UDP, detaches the vif
// (`xl network-detach`), attaches it again (`xl network-attach`) and checks
// again; then detaches and re-attaches the disk (`xl block-detach` /
// `block-attach`) while the guest uses it; then times `xl shutdown -w`.
// As type = "pv" (MODE_INDEPENDENT in rig-test.ts).
import { RigTest, inMode, inModes, MODE_INDEPENDENT, udpOk, xenProbeImage, probeExtra, dom0Tool } from "./rig-test.ts";

const DISK = "'format=raw,vdev=xvda,access=rw,script=block-tsxen,target=/tmp/hp.img'";

const CHECK = `phase=$1 name=$3 log=$4
[ "$phase" = running ] || exit 0
. /etc/tsxen/check-lib.sh
chmod +x ./udpcheck
wait_console "hotplug: ready" || exit 1
rc=0
ping -c 3 -i 0.2 -W 2 10.0.0.2 || rc=1
./udpcheck 10.0.0.2 7 30 1472 || rc=1
t0=$(up_ms)
xl network-detach "$name" 0 || { echo "dom0: network-detach failed"; rc=1; }
echo "dom0: network-detach took $(( $(up_ms) - t0 )) ms"
wait_console "hotplug: vif 0 disconnected" || rc=1
echo "dom0: vifs after detach: $(xl network-list "$name" | tail -n +2 | wc -l)"
xl network-attach "$name" mac=00:16:3e:00:00:12 ip=10.0.0.2 || { echo "dom0: network-attach failed"; rc=1; }
wait_console "hotplug: vif 0 connected again" || rc=1
ping -c 3 -i 0.2 -W 2 10.0.0.2 || rc=1
./udpcheck 10.0.0.2 7 30 1472 || rc=1
wait_console "hotplug: xvda connected (1)" || rc=1
t0=$(up_ms)
xl block-detach "$name" xvda || { echo "dom0: block-detach failed"; rc=1; }
echo "dom0: block-detach took $(( $(up_ms) - t0 )) ms"
wait_console "hotplug: xvda disconnected" || rc=1
xl block-attach "$name" ${DISK} || { echo "dom0: block-attach failed"; rc=1; }
wait_console "hotplug: xvda connected (2)" || rc=1
sleep 1
t0=$(up_ms)
xl shutdown -w "$name"
echo "dom0: xl shutdown -w took $(( $(up_ms) - t0 )) ms"
exit $rc
`;

const rig = new RigTest("tsxen-xen-hotplug-", async (tmp) => {
  const image = await xenProbeImage(tmp); // tests/apps/hotplug.ts
  const udpcheck = dom0Tool("udpcheck", tmp);
  return inModes([{
    name: "hotplug", image, files: { udpcheck }, timeoutSec: 150,
    setup: "rm -f /tmp/hp.img && truncate -s 16M /tmp/hp.img\n",
    xlExtra: ["vif = [ 'mac=00:16:3e:00:00:12,ip=10.0.0.2' ]", `disk = [ ${DISK} ]`, probeExtra("hotplug")],
    check: CHECK,
  }], MODE_INDEPENDENT);
});

rig.modeTest("hot-plug: a vif detached and attached again while the guest runs: it closes cleanly, reconnects, and answers ping and UDP again", async (t, mode) => {
  const s = await rig.scenario(t, inMode("hotplug", mode));
  const out = s?.checkOutput ?? [];
  const con = s?.console ?? [];
  for (const l of out.filter((x) => x.startsWith("dom0:") || x.startsWith("udpcheck:") || /packet loss/.test(x))) t.comment(l);
  t.equal(out.filter((l) => /^3 packets transmitted, 3 packets received, 0% packet loss$/.test(l)).length, 2, "ping answered before and after");
  t.equal(udpOk(t, out, 30), 2, "UDP echoed intact before and after");
  t.ok(con.includes("netfront 0: disconnected: the backend is closing"), "netfront saw the backend close");
  t.ok(out.includes("dom0: vifs after detach: 0"), "xl removed the vif");
  t.ok(con.includes("hotplug: vif 0 connected again"), "the app kept its stack and was told of the new connect");
  // At least 60 datagrams: a udpcheck retry (a late echo) sends one more.
  t.ok(con.some((l) => Number(/^hotplug: vif 0: connects 2, udp in (\d+), leaked grants 0$/.exec(l)?.[1] ?? 0) >= 60), "two connects, 60 datagrams, no grant leaked");
}, MODE_INDEPENDENT);

rig.modeTest("hot-plug: a disk detached and attached again while in use: I/O stops cleanly and resumes", async (t, mode) => {
  const s = await rig.scenario(t, inMode("hotplug", mode));
  const con = s?.console ?? [];
  t.ok(con.some((l) => l.startsWith("hotplug: xvda disconnected: ")), "the app was told of the removal");
  t.ok(con.includes("hotplug: xvda connected (2)"), "and of the new connect");
  const m = con.map((l) => /^hotplug: disk round trips ok (\d+) \((\d+) since the last connect\), failed (\d+), mismatched (\d+)$/.exec(l)).find((x) => x);
  t.ok(m && Number(m[2]) > 0, `round trips after the re-attach (${m?.[2]} of ${m?.[1]}; failed ${m?.[3]}: those in flight at the removal)`);
  t.equal(m?.[4], "0", "every read returned what was written");
  t.equal(s?.checkRc, 0, "every dom0 step succeeded");
  t.equal(s?.reason, "poweroff", "xl shutdown then powered it off");
  const shut = (s?.checkOutput ?? []).find((l) => l.startsWith("dom0: xl shutdown -w took"));
  if (shut) t.comment(shut);
}, MODE_INDEPENDENT);
