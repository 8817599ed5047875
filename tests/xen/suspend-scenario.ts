// Shared by tests/xen/suspend.test.ts (make test) and tests/soak/
// suspend.soak.ts (make soak): the suspend-probe guest (tests/apps/
// suspend-probe.ts) with a vif and a 4 MiB disk, and the dom0 check script
// that pings it every 20 ms (tests/xen/tools/pinggap.c) while it runs the
// given save/restore/migrate steps, then checks ping, UDP and the disk.
import { xenProbeImage, probeExtra, dom0Tool } from "./rig-test.ts";
import type { Scenario } from "../../tools/rig/harness.ts";

const DISK = (file: string) => `'format=raw,vdev=xvda,access=rw,script=block-tsxen,target=${file}'`;

// The steps of one scenario: `steps` is sh run with $name set, between the
// guest's "ready" and the final checks.
export function suspendCheck(disk: string, steps: string): string {
  return `phase=$1 name=$3 log=$4
if [ "$phase" = stopped ]; then
  echo "dom0: disk crc32 $(busybox crc32 ${disk} | cut -d' ' -f1)"
  exit 0
fi
. /etc/tsxen/check-lib.sh   # guest_log, wait_console, up_ms: both logs of a migrated guest
chmod +x ./udpcheck ./pinggap ./tcpcheck
wait_console "suspend-probe: ready" 1 60 || exit 1
rc=0
./pinggap 10.0.0.2 20 600 > gap.out & gap=$!
sleep 1
${steps}
sleep 1
kill $gap; wait $gap; cat gap.out
ping -c 3 -i 0.2 -W 2 10.0.0.2 || rc=1
./udpcheck 10.0.0.2 7 30 1472 || rc=1
wait_console "suspend-probe: xvda: " 1 60 || rc=1
guest_log | grep "^suspend-probe: \\(xvda\\|resumed\\)" | sed 's/^/dom0: guest said: /'
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
wait_console "resumed (new domain: true)" ${n} 60 || rc=1
wait_console "vif 0 connected again" ${n} 60 || rc=1
`;
}

export const CHECKPOINT = `t0=$(up_ms); xl save -c "$name" /tmp/sp.ckpt || { echo "dom0: xl save -c failed"; rc=1; }
echo "dom0: xl save -c took $(( $(up_ms) - t0 )) ms"; rm -f /tmp/sp.ckpt
wait_console "resumed (new domain: false)" 1 60 || rc=1
`;

export const MIGRATE = (n: number) => `t0=$(up_ms); xl migrate -s "" "$name" "xl migrate-receive" || { echo "dom0: xl migrate failed"; rc=1; }
echo "dom0: xl migrate took $(( $(up_ms) - t0 )) ms"
wait_console "resumed (new domain: true)" ${n} 60 || rc=1
wait_console "vif 0 connected again" ${n} 60 || rc=1
`;

// An open TCP connection across `steps`: dom0's Linux sends the first half
// of `bytes` to the probe's sink (port 9) and holds the connection open
// (tcpcheck's RESUME_FILE), `steps` run, then the second half goes over the
// same connection; the guest's sink line is printed as "dom0: guest said: ".
export function withTcp(steps: string, bytes: number): string {
  return `rm -f /tmp/tcp-resume
./tcpcheck send 10.0.0.2 9 ${bytes} /tmp/tcp-resume > send.out 2>&1 & sender=$!
wait_file "tcpcheck: paused" send.out 60 || rc=1
${steps}touch /tmp/tcp-resume
wait $sender || rc=1
cat send.out
wait_console "suspend-probe: sink " 1 60 || rc=1
guest_log | grep "^suspend-probe: sink " | sed 's/^/dom0: guest said: /'
`;
}

type ProbeFiles = { image: string; udpcheck: string; pinggap: string; tcpcheck: string };

export async function probeImage(tmp: string): Promise<ProbeFiles> {
  const image = await xenProbeImage(tmp); // tests/apps/suspend-probe.ts
  return { image, udpcheck: dom0Tool("udpcheck", tmp), pinggap: dom0Tool("pinggap", tmp), tcpcheck: dom0Tool("tcpcheck", tmp) };
}

// One guest (memory=8) with a vif and a 4 MiB disk it writes in 128 chunks,
// 30 ms apart: about 4 s of writes, which run across make test's first
// suspend (and the checkpoint after it) and end soon after, as the checks
// wait for them.
export function probeScenario(name: string, type: "pv" | "pvh", files: ProbeFiles, steps: string, timeoutSec: number): Scenario {
  const disk = `/tmp/${name}.img`;
  return {
    name, type, image: files.image, files: { udpcheck: files.udpcheck, pinggap: files.pinggap, tcpcheck: files.tcpcheck }, timeoutSec,
    memoryMB: 8, // what xl save copies and xl migrate sends: 8 MiB, a quarter of the default 32
    setup: `rm -f ${disk} && truncate -s 4M ${disk}\n`,
    xlExtra: ["vif = [ 'mac=00:16:3e:00:00:13,ip=10.0.0.2' ]", `disk = [ ${DISK(disk)} ]`, probeExtra("suspend-probe", "chunk_kb=32 gap_ms=30")],
    check: suspendCheck(disk, steps),
  };
}

