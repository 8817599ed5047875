// Shared by tests/xen/suspend.test.ts (make test) and tests/soak/
// suspend.soak.ts (make soak): the suspend-probe guest (tests/apps/
// suspend-probe.ts) with a vif and a 4 MiB disk, and the dom0 check script
// that pings it every 20 ms (tests/xen/tools/pinggap.c) while it runs the
// given save/restore/migrate steps, then checks ping, UDP and the disk.
import path from "node:path";
import { execFileSync } from "node:child_process";
import { buildImage } from "./rig-test.ts";
import type { Scenario } from "../../tools/rig/harness.ts";

const DISK = (file: string) => `'format=raw,vdev=xvda,access=rw,script=block-tsxen,target=${file}'`;

// dom0 sh functions over the guest's console, for check scripts that run
// with $name and $log set: logs (all of it), count PATTERN, wait_n PATTERN N
// (up to 60 s). The console of a migrated guest goes on in the log
// xenconsoled opened for its incoming name (dom0's harness follows only the
// first), so they read both; the lines that matter are then printed as
// "dom0: guest said: ".
export const GUEST_LOG_HELPERS = `logs() { cat "$log" /var/log/xen/guest-"$name"--incoming.log 2>/dev/null; }
count() { logs | grep -c "$1"; }
wait_n() { i=0; until [ "$(count "$1")" -ge "$2" ]; do i=$((i+1)); [ $i -gt 600 ] && { echo "dom0: no $2 x '$1' within 60 s"; return 1; }; sleep 0.1; done; }
`;

// The steps of one scenario: `steps` is sh run with $name set, between the
// guest's "ready" and the final checks.
export function suspendCheck(disk: string, steps: string): string {
  return `phase=$1 name=$3 log=$4
if [ "$phase" = stopped ]; then
  echo "dom0: disk crc32 $(busybox crc32 ${disk} | cut -d' ' -f1)"
  exit 0
fi
${GUEST_LOG_HELPERS}up_ms() { awk '{ printf "%d", $1 * 1000 }' /proc/uptime; }
chmod +x ./udpcheck ./pinggap
wait_n "suspend-probe: ready" 1 || exit 1
rc=0
./pinggap 10.0.0.2 20 600 > gap.out & gap=$!
sleep 1
${steps}
sleep 1
kill $gap; wait $gap; cat gap.out
ping -c 3 -i 0.2 -W 2 10.0.0.2 || rc=1
./udpcheck 10.0.0.2 7 30 1472 || rc=1
wait_n "suspend-probe: xvda: " 1 || rc=1
logs | grep "^suspend-probe: \\(xvda\\|resumed\\)" | sed 's/^/dom0: guest said: /'
xl shutdown -w "$name"
exit $rc
`;
}

// `xl save` + `xl restore`, the n-th time (n counts restores).
export function saveRestore(n: number): string {
  return `t0=$(up_ms); xl save "$name" /tmp/sp.save || { echo "dom0: xl save failed"; rc=1; }
t1=$(up_ms); xl restore /tmp/sp.save || { echo "dom0: xl restore failed"; rc=1; }
t2=$(up_ms); rm -f /tmp/sp.save
echo "dom0: save ${n}: xl save $((t1 - t0)) ms, xl restore $((t2 - t1)) ms"
wait_n "resumed (new domain: true)" ${n} || rc=1
wait_n "vif 0 connected again" ${n} || rc=1
`;
}

export const CHECKPOINT = `t0=$(up_ms); xl save -c "$name" /tmp/sp.ckpt || { echo "dom0: xl save -c failed"; rc=1; }
echo "dom0: xl save -c took $(( $(up_ms) - t0 )) ms"; rm -f /tmp/sp.ckpt
wait_n "resumed (new domain: false)" 1 || rc=1
`;

export const MIGRATE = (n: number) => `t0=$(up_ms); xl migrate -s "" "$name" "xl migrate-receive" || { echo "dom0: xl migrate failed"; rc=1; }
echo "dom0: xl migrate took $(( $(up_ms) - t0 )) ms"
wait_n "resumed (new domain: true)" ${n} || rc=1
wait_n "vif 0 connected again" ${n} || rc=1
`;

export async function probeImage(tmp: string): Promise<{ image: string; udpcheck: string; pinggap: string }> {
  const image = path.join(tmp, "suspend-probe.xen");
  const udpcheck = path.join(tmp, "udpcheck");
  const pinggap = path.join(tmp, "pinggap");
  await buildImage("tests/apps/suspend-probe.ts", image);
  execFileSync("gcc", ["-static", "-O2", "-o", udpcheck, "tests/xen/tools/udpcheck.c"]);
  execFileSync("gcc", ["-static", "-O2", "-o", pinggap, "tests/xen/tools/pinggap.c"]);
  return { image, udpcheck, pinggap };
}

// One guest (memory=16) with a vif and a 4 MiB disk it writes in 128 chunks, 50 ms apart.
export function probeScenario(name: string, type: "pv" | "pvh", files: { image: string; udpcheck: string; pinggap: string }, steps: string, timeoutSec: number): Scenario {
  const disk = `/tmp/${name}.img`;
  return {
    name, type, image: files.image, files: { udpcheck: files.udpcheck, pinggap: files.pinggap }, timeoutSec,
    memoryMB: 16, // what xl save copies: 16 MiB saves in half the time of the default 32
    setup: `rm -f ${disk} && truncate -s 4M ${disk}\n`,
    xlExtra: ["vif = [ 'mac=00:16:3e:00:00:13,ip=10.0.0.2' ]", `disk = [ ${DISK(disk)} ]`, 'extra = "chunk_kb=32 gap_ms=50"'],
    check: suspendCheck(disk, steps),
  };
}

