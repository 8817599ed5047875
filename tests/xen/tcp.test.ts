// Under real Xen: TCP, DHCP and IPv4 fragments against dom0's Linux, on
// the rig's bridge. Two guests:
//  - tcp-http: examples/http-server with no ip= on its vif, so it asks
//    dom0's busybox udhcpd (a static lease: 10.0.0.20), and a 4 MiB disk
//    of random bytes. dom0 pings it with 4000-byte payloads (fragments both
//    ways), fetches the page, the JSON counter and the whole disk with
//    busybox wget (the download's CRC-32 against the file's), and opens 100
//    connections at once, each answered (tests/xen/tools/tcpcheck.c).
//  - tcp-bulk: tests/apps/tcp-services at 10.0.0.21: 16 MiB from dom0 to
//    the guest (its CRC-32 and pattern check) and 16 MiB back.
import { RigTest, xenProbeImage, probeExtra, dom0Tool } from "./rig-test.ts";

const BULK = 16 * 1024 * 1024;
// The bulk transfers are 16 MiB each way (64 times the guest's 256 KiB
// socket buffers): QEMU's one emulated CPU is make test's critical path, and the
// sim's TCP tests move 64 MiB each way under loss. The served disk
// (DISK_MIB) is 4 MiB: its download goes through blkfront's 128-slot ring
// and TCP's window many times over, and each MiB costs the emulated CPU
// about 0.25 s of blkback, wget and TCP.
const DISK_MIB = 4;

const UDHCPD_CONF = `interface xenbr0
start 10.0.0.100
end 10.0.0.150
max_leases 50
static_lease 00:16:3e:00:00:20 10.0.0.20
opt subnet 255.255.255.0
opt router 10.0.0.1
opt lease 600
lease_file /tmp/udhcpd.leases
pidfile /tmp/udhcpd.pid
`;

// dom0's side of tcp-http.
const HTTP_CHECK = `phase=$1 name=$3 log=$4
if [ "$phase" = stopped ]; then kill $(cat /tmp/udhcpd.pid) 2>/dev/null; rm -f /tmp/http.img; exit 0; fi
. /etc/tsxen/check-lib.sh
wait_console "http: serving on http://" 1 60 || exit 1
ip=$(grep -o "serving on http://[0-9.]*" "$log" | head -n 1 | sed 's|.*http://||')
echo "dom0: guest serving at $ip"
grep 10.0.0.20 /tmp/udhcpd.leases >/dev/null 2>&1; dumpleases -f /tmp/udhcpd.leases 2>/dev/null | sed 's/^/dom0: lease /'
rc=0
ping -c 3 -i 0.2 -W 2 -s 4000 $ip || rc=1
wget -q -O /tmp/page.html http://$ip/ && grep -q "Hello from tsxen" /tmp/page.html && echo "dom0: page ok" || rc=1
echo "dom0: counter $(wget -q -O - http://$ip/api/counter)"
echo "dom0: counter $(wget -q -O - http://$ip/api/counter)"
t0=$(up_ms)
wget -q -O /tmp/disk.out http://$ip/disk || rc=1
t1=$(up_ms)
echo "dom0: disk download $(stat -c %s /tmp/disk.out) bytes in $((t1 - t0)) ms"
want=$(busybox crc32 /tmp/http.img | cut -d' ' -f1); got=$(busybox crc32 /tmp/disk.out | cut -d' ' -f1)
echo "dom0: disk crc32 file $want download $got"
[ "$want" = "$got" ] || rc=1
rm -f /tmp/disk.out /tmp/page.html
chmod +x ./tcpcheck
./tcpcheck http $ip 80 100 /api/counter || rc=1
xl shutdown "$name"
exit $rc
`;

// dom0's side of tcp-bulk.
const BULK_CHECK = `phase=$1 name=$3 log=$4
[ "$phase" = running ] || exit 0
. /etc/tsxen/check-lib.sh
wait_console "tcp-services: ready" || exit 1
chmod +x ./tcpcheck
rc=0
./tcpcheck send 10.0.0.21 9 ${BULK} || rc=1
./tcpcheck recv 10.0.0.21 19 ${BULK} || rc=1
xl shutdown "$name"
exit $rc
`;

const rig = new RigTest("tsxen-xen-tcp-", async (tmp) => {
  const probe = await xenProbeImage(tmp); // examples/http-server and tests/apps/tcp-services.ts
  const tcpcheck = dom0Tool("tcpcheck", tmp);
  // PV only: TCP is the same code in both modes, and these are make
  // test's heaviest scenarios (the PVH data path is covered by UDP and disks).
  return [
      {
        name: "tcp-http", image: probe, files: { tcpcheck }, timeoutSec: 240, memoryMB: 64,
        setup: `dd if=/dev/urandom of=/tmp/http.img bs=1M count=${DISK_MIB} 2>/dev/null
cat > /tmp/udhcpd.conf <<'CONF'
${UDHCPD_CONF}CONF
rm -f /tmp/udhcpd.leases; touch /tmp/udhcpd.leases
udhcpd /tmp/udhcpd.conf
`,
        xlExtra: ["vif = [ 'mac=00:16:3e:00:00:20' ]", "disk = [ 'format=raw,vdev=xvda,access=ro,script=block-tsxen,target=/tmp/http.img' ]", probeExtra("http-server")],
        check: HTTP_CHECK,
      },
      {
        name: "tcp-bulk", image: probe, files: { tcpcheck }, timeoutSec: 240, memoryMB: 64,
        xlExtra: ["vif = [ 'mac=00:16:3e:00:00:21,ip=10.0.0.21' ]", probeExtra("tcp-services", `source=${BULK} kib=256`)],
        check: BULK_CHECK,
      },
  ];
});

rig.test("DHCP from dom0's udhcpd gives the guest its address; ping -s 4000 is answered (fragments both ways)", async (t) => {
  const s = await rig.scenario(t, "tcp-http");
  const out = s?.checkOutput ?? [];
  t.ok(s?.console.some((l) => /^dhcp: vif 0: bound 10\.0\.0\.20\/24 router 10\.0\.0\.1 from 10\.0\.0\.1, lease 600 s$/.test(l)), "bound 10.0.0.20/24 from udhcpd");
  t.ok(out.includes("dom0: guest serving at 10.0.0.20"), "serving on the leased address");
  t.ok(out.includes("3 packets transmitted, 3 packets received, 0% packet loss"), "ping -s 4000: 3 of 3 answered");
  const rtt = out.find((l) => l.startsWith("round-trip"));
  if (rtt) t.comment(`ping -s 4000 ${rtt}`);
});

rig.test(`HTTP: busybox wget gets the page, the JSON counter and the ${DISK_MIB} MiB disk (CRC-32 equal to the file's); 100 connections at once are all answered`, async (t) => {
  const s = await rig.scenario(t, "tcp-http");
  const out = s?.checkOutput ?? [];
  for (const l of out.filter((x) => x.startsWith("dom0:") || x.startsWith("tcpcheck:"))) t.comment(l);
  t.ok(out.includes("dom0: page ok"), "the page");
  t.deepEqual(out.filter((l) => l.startsWith("dom0: counter ")), ['dom0: counter {"requests": 2}', 'dom0: counter {"requests": 3}'], "the counter counts");
  const crc = out.find((l) => l.startsWith("dom0: disk crc32"));
  t.match(crc ?? "", /^dom0: disk crc32 file ([0-9a-f]{8}) download \1$/, `the ${DISK_MIB} MiB download's CRC-32 equals the file's`);
  t.ok(out.some((l) => l.startsWith(`dom0: disk download ${DISK_MIB << 20} bytes`)), `${DISK_MIB << 20} bytes`);
  t.ok(out.includes("tcpcheck: 100 connections open at once, 100 opened, 100 answered 200"), "100 connections at once, each answered");
  t.ok((s?.console ?? []).filter((l) => /^http: 10\.0\.0\.1:\d+ "GET /.test(l)).length >= 104, "a log line per request");
  t.equal(s?.checkRc, 0, "dom0's checks passed");
  t.equal(s?.reason, "poweroff");
});

rig.test("TCP: 16 MiB from dom0's Linux to the guest and 16 MiB back, intact (CRC-32 and the byte pattern)", async (t) => {
  const s = await rig.scenario(t, "tcp-bulk");
  const out = s?.checkOutput ?? [];
  for (const l of out) if (l.startsWith("tcpcheck:")) t.comment(l);
  const sent = /^tcpcheck: sent 16777216 bytes, crc32 ([0-9a-f]{8})/.exec(out.find((l) => l.startsWith("tcpcheck: sent")) ?? "");
  t.ok(sent, "dom0 sent 16 MiB");
  const sink = (s?.console ?? []).find((l) => l.startsWith("tcp-services: sink"));
  t.match(sink ?? "", new RegExp(`: 16777216 bytes, crc ${sent?.[1] ?? "x"}, 0 off-pattern$`), "the guest got all of it: same CRC-32, every byte in place");
  t.ok(out.some((l) => /^tcpcheck: received 16777216 bytes, 0 off-pattern/.test(l)), "dom0 received 16 MiB from the guest, every byte in place");
  t.ok((s?.console ?? []).some((l) => /^tcp-services: source \d+ closed after 16777216 bytes$/.test(l)), "the guest's source finished and closed");
  t.ok((s?.console ?? []).some((l) => /^tcp-services: ready on 10\.0\.0\.21 .*random numbers from rdrand\)$/.test(l)), "its sequence numbers and cookies were keyed from RDRAND (the rig's CPU has it: -cpu …,+rdrand)");
  t.equal(s?.checkRc, 0);
  t.equal(s?.reason, "poweroff");
});
