#!/bin/sh
# bench/dom0/bench.sh: runs inside the rig's dom0 as the setup.sh of the
# `bench` scenario (cwd = the scenario dir, which holds the images, the
# Linux kernel + initramfs, benchtool and bench.env). Boots each guest
# itself (xl create -p, then `benchtool bootwait ... -- xl unpause`) and
# prints "BENCH <kind> <guest> run=<i> key=value..." lines on dom0's console,
# which bench/run.ts parses from the serial log. Every wait is bounded.
# Each guest runs as type = "pv" and as type = "pvh" (the same tsxen image,
# the same Linux vmlinux + initramfs); the PVH runs are labelled with a
# "pvh" suffix (tsxenpvh, linuxpvh, hellopvh).
. ./bench.env
chmod +x ./benchtool ./pinggap
B=$PWD/benchtool
IP=10.0.0.2

say() { echo "BENCH $*"; }

# wait_for LOG PATTERN SECONDS: 0 when PATTERN shows up in LOG in time; 1 on a
# timeout or when the guest printed FAILED / panicked.
wait_for() {
    local i=0 n=$(( $3 * 10 ))
    while [ $i -lt $n ]; do
        grep -q "$2" "$1" && return 0
        grep -q "FAILED\|Kernel panic\|panic:" "$1" && return 1
        # every second: a domain that shut down or crashed will not get there
        [ $((i % 10)) = 9 ] && [ "$(xl list -v "$DOM" 2>/dev/null | awk 'NR == 2 {print $8}')" != "-" ] && return 1
        i=$((i + 1)); sleep 0.1
    done
    return 1
}

# label KIND TYPE: the guest's name in BENCH lines (tsxen, tsxenpvh, ...)
label() { [ "$2" = pvh ] && echo "$1"pvh || echo "$1"; }

# cfg NAME KIND MEM DISK(0/1) TYPE(pv/pvh): writes NAME.cfg
cfg() {
    {
        echo "name = \"$1\""; echo "type = \"$5\""; echo "memory = $3"; echo 'vcpus = 1'
        echo 'on_poweroff = "preserve"'; echo 'on_crash = "preserve"'; echo 'on_reboot = "preserve"'
        case $2 in
        linux) echo "kernel = \"$PWD/vmlinux\""; echo "ramdisk = \"$PWD/linux-initrd.cpio.gz\""
               echo 'extra = "console=hvc0 quiet"' ;;
        hello) echo "kernel = \"$PWD/hello.xen\"" ;;
        tsxen) echo "kernel = \"$PWD/netblk.xen\""; echo "extra = \"chunk=$CHUNK_KIB source=$TCP_BYTES kib=$TCP_KIB\"" ;;
        tsxenstub) echo "kernel = \"$PWD/netblk-stub.xen\""; echo "extra = \"chunk=$CHUNK_KIB source=$TCP_BYTES kib=$TCP_KIB\"" ;;
        esac
        [ "$2" = hello ] || echo "vif = [ 'mac=00:16:3e:00:00:02,ip=$IP' ]"
        [ "$4" = 1 ] && echo "disk = [ 'format=raw,vdev=xvda,access=rw,script=block-tsxen,target=/tmp/bench-disk.img' ]"
    } > "$1.cfg"
}

# start NAME KIND MEM DISK MARKER TYPE: create paused, unpause under bootwait; prints the boot line.
start() {
    LOG=/var/log/xen/guest-$1.log; DOM=$1
    : > "$LOG"
    rm -f /tmp/bench-disk.img; [ "$4" = 1 ] && truncate -s 64M /tmp/bench-disk.img
    cfg "$1" "$2" "$3" "$4" "$6"
    local t0 t1
    t0=$(cut -d' ' -f1 /proc/uptime)
    if ! timeout 90 xl create -q -p "$1.cfg" > "$1.create" 2>&1; then
        say "create-failed $1 type=$6 mem=$3 $( (grep -m 1 'xc_dom\|too large\|panic' "$1.create" || tail -n 2 "$1.create") | tr '\n' ' ')"
        xl destroy "$1" 2>/dev/null; return 1
    fi
    t1=$(cut -d' ' -f1 /proc/uptime)
    BOOT=$(timeout 100 "$B" bootwait "$LOG" 90000 "$5" "Kernel panic" -- xl unpause "$1")
    say "boot $(label "$2" "$6") run=$RUN mem=$3 create_s=$(awk "BEGIN{print $t1-$t0}") $BOOT"
}

stop() { timeout 30 xl destroy "$1" 2>/dev/null; rm -f /tmp/bench-disk.img; }

# net NAME KIND COUNT: ping + UDP echo at 64 and 1400 bytes
net() {
    local p
    p=$(timeout 30 ping -c "$PINGS" -i 0.2 -W 2 $IP 2>&1 | tail -n 2 | tr '\n' ' ')
    say "ping $2 run=$RUN $p"
    for size in 64 1400; do
        say "$2 run=$RUN $(timeout $((UDP_MAX_S + 10)) "$B" udp $IP 7 "$3" $size 32 200 "$UDP_MAX_S")"
    done
}

# tcphttp KIND: TCP bulk both ways (dom0 -> guest port 9, guest port 19 ->
# dom0, TCP_BYTES each) and HTTP GET / load with and without keep-alive.
tcphttp() {
    say "$1 run=$RUN $(timeout 300 "$B" tcpsend $IP 9 "$TCP_BYTES")"
    say "$1 run=$RUN $(timeout 300 "$B" tcprecv $IP 19)"
    for mode in keepalive close; do
        say "$1 run=$RUN $(timeout $((HTTP_S + 30)) "$B" http $IP 80 / "$HTTP_CONNS" "$HTTP_S" $mode)"
    done
}

# downtime NAME LABEL TYPE: the guest saved and restored (`xl save` +
# `xl restore`), and under PVH also live-migrated to this host (`xl migrate
# -s ""`; PV migration needs shadow paging, which this Xen lacks), while
# pinggap pings it every 10 ms: the longest gap between two replies is the
# downtime, from the last reply before the suspend to the first after.
downtime() {
    local op rc gp ops=save
    [ "$3" = pvh ] && ops="save migrate"
    for op in $ops; do
        ./pinggap $IP 10 300 > pinggap.out & gp=$!
        sleep 1
        if [ $op = save ]; then
            timeout 120 xl save "$1" /tmp/bench.save > "$1.$op" 2>&1 && timeout 120 xl restore /tmp/bench.save >> "$1.$op" 2>&1
            rc=$?; rm -f /tmp/bench.save
        else
            timeout 120 xl migrate -s "" "$1" "xl migrate-receive" > "$1.$op" 2>&1; rc=$?
        fi
        sleep 2; kill $gp 2>/dev/null; wait $gp
        say "downtime $2 run=$RUN op=$op rc=$rc $(cat pinggap.out)"
        [ $rc = 0 ] || tail -n 3 "$1.$op" | sed "s/^/BENCH note $2 $op: /"
    done
}

# full KIND NAME MEM TYPE: one measured run of the workload (TCP and HTTP
# under PV only: bench/run.ts's time bound counts them for three guests)
full() {
    local marker=BENCH-INIT ready="BENCH ready" l
    l=$(label "$1" "$4")
    [ "$1" != linux ] && { marker="bench: tsxen up"; ready="bench: ready"; }
    if start "$2" "$1" "$3" 1 "$marker" "$4" && wait_for "$LOG" "$ready" 120; then
        grep -h "tsxen up\|blk write\|blk read\|blk flush\|rx-pause\|ready" "$LOG" | tr -d '\r' | sed "s/^/BENCH guest $l run=$RUN | /"
        net "$2" "$l" "$UDP_COUNT"
        [ "$4" = pvh ] || tcphttp "$l"
        # save/restore and migration downtime (not the collector comparison)
        [ "$1" = tsxenstub ] || downtime "$2" "$l" "$4"
    else
        say "fail $l run=$RUN"; tail -n 5 "$LOG"
    fi
    stop "$2"
}

# probe KIND NAME MEM TYPE: does the workload pass with memory=MEM? (ready, blk ok, ping, 500 echoes)
probe() {
    local marker=BENCH-INIT ready="BENCH ready" ok=0 u l
    l=$(label "$1" "$4")
    [ "$1" = tsxen ] && { marker="bench: tsxen up"; ready="bench: ready.* ok"; }
    if start "$2" "$1" "$3" 1 "$marker" "$4" && wait_for "$LOG" "$ready" 120; then
        if timeout 20 ping -c 3 -W 2 $IP > /dev/null 2>&1; then
            u=$(timeout 30 "$B" udp $IP 7 500 1400 32 200 20)
            echo "$u" | grep -q 'echoed=\(49[5-9]\|500\) ' && ok=1
        fi
        grep -q "blk read bytes=67108864" "$LOG" || ok=0
    fi
    [ $ok = 1 ] || tail -n 3 "$LOG" 2>/dev/null | tr -d '\r' | sed "s/^/BENCH memlog $l mem=$3 | /"
    say "memscan $l mem=$3 pass=$ok"
    stop "$2"
    [ $ok = 1 ]
}

# The HTTP load generator's new-connection mode lets the server close first,
# but reuse of TIME-WAIT ports keeps dom0 from running out of them anyway.
sysctl -qw net.ipv4.tcp_tw_reuse=1 2>/dev/null
say "start N=$N kernel=$(uname -r) $(xl info 2>/dev/null | awk -F' *: *' '/^xen_major/ {a = $2} /^xen_minor/ {b = $2} /^xen_extra/ {c = $2} END {printf "xen_version=%s.%s%s", a, b, c}')"
RUN=0
for RUN in $(seq 1 "$N"); do
    for T in pv pvh; do
        start bhello hello "$MEM" 0 "Hello from tsxen" "$T" && wait_for "$LOG" "Hello from tsxen" 30
        stop bhello
        full tsxen btsxen "$MEM" "$T"
        # the collector's cost (stub runtime) is compared under PV only
        [ "$T" = pv ] && full tsxenstub bstub "$MEM" "$T"
        full linux blinux "$MEM" "$T"
    done
done
RUN=0
for T in pv pvh; do
    for m in $MEMSCAN_TSXEN; do probe tsxen mtsxen "$m" "$T" && break; done
    for m in $MEMSCAN_LINUX; do probe linux mlinux "$m" "$T" && break; done
done
say "done"
exit 0
