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
chmod +x ./benchtool ./pinggap ./domcpu
B=$PWD/benchtool
IP=10.0.0.2
WATCH=

# cpu: "G,D,T", the CPU ns Xen charged so far to the guest $DOMID and to
# dom0, and dom0's monotonic clock (ns)
cpu() { ./domcpu "$DOMID" 0 | sed 's/^cpu_ns=//'; }

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

# cfg_common NAME TYPE MEM ON_POWEROFF_AND_REBOOT: how every guest's config starts
cfg_common() {
    echo "name = \"$1\""; echo "type = \"$2\""; echo "memory = $3"; echo 'vcpus = 1'
    echo "on_poweroff = \"$4\""; echo 'on_crash = "preserve"'; echo "on_reboot = \"$4\""
}
# linux_cfg [MORE]: the Linux guest's kernel, initramfs and command line (+ MORE)
linux_cfg() { echo "kernel = \"$PWD/vmlinux\""; echo "ramdisk = \"$PWD/linux-initrd.cpio.gz\""; echo "extra = \"console=hvc0 quiet$1\""; }

# cfg NAME KIND MEM DISK(0/1) TYPE(pv/pvh): writes NAME.cfg
cfg() {
    {
        cfg_common "$1" "$5" "$3" preserve
        case $2 in
        linux) linux_cfg ;;
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
    DOMID=$(xl domid "$1")
    # Guest and dom0 CPU when the guest starts writing the disk ("blk start",
    # printed by both guests just before their first write request or dd)
    # and after the write and the read (for CPU per MiB): polled from the
    # console log every ms.
    if [ "$4" = 1 ]; then
        ./domcpu watch "$LOG" 150000 "$DOMID" "blk start" "blk write bytes" "blk read bytes" > "$1.blkcpu" 2>&1 &
        WATCH=$!
    fi
    BOOT=$(timeout 100 "$B" bootwait "$LOG" 90000 "$5" "Kernel panic" -- xl unpause "$1")
    say "boot $(label "$2" "$6") run=$RUN mem=$3 create_s=$(awk "BEGIN{print $t1-$t0}") $BOOT"
}

stop() {
    [ -n "$WATCH" ] && kill "$WATCH" 2>/dev/null; WATCH=
    timeout 30 xl destroy "$1" 2>/dev/null; rm -f /tmp/bench-disk.img
}

# net NAME KIND COUNT: ping + UDP echo at 64 and 1400 bytes
net() {
    local p u c0 c1
    c0=$(cpu)
    p=$(timeout 30 ping -c "$PINGS" -i 0.2 -W 2 $IP 2>&1 | tail -n 2 | tr '\n' ' ')
    c1=$(cpu)
    say "ping $2 run=$RUN cpu0=$c0 cpu1=$c1 $p"
    for size in 64 1400; do
        c0=$(cpu)
        u=$(timeout $((UDP_MAX_S + 10)) "$B" udp $IP 7 "$3" $size 32 200 "$UDP_MAX_S")
        c1=$(cpu)
        say "$2 run=$RUN $u cpu0=$c0 cpu1=$c1"
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
        wait "$WATCH" 2>/dev/null; WATCH=
        say "blkcpu $l run=$RUN $(tr '\n' ' ' < "$2.blkcpu")"
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
LINUX_FLOOR=
for T in pv pvh; do
    for m in $MEMSCAN_TSXEN; do probe tsxen mtsxen "$m" "$T" && break; done
    for m in $MEMSCAN_LINUX; do probe linux mlinux "$m" "$T" && { [ "$T" = pv ] && LINUX_FLOOR=$m; break; }; done
done

# ---------------------------------------------------------------- many guests
# Fleets of udp-echo guests (examples/udp-echo) and of Linux domUs (the same
# initramfs, no disk), PV, each with its own vif and address: guest i of
# fleet subnet S is 10.0.S.(10 + i % 240) on subnet S + i / 240, MAC
# 00:16:3e:S:hi:lo. dom0 gets 10.0.S.1 on xenbr0 for each subnet (the tsxen
# stack treats every address as on the link; Linux uses a /24).
for n in $(seq 1 12); do ip addr add 10.0.$n.1/24 dev xenbr0 2>/dev/null; done
# While the creates run, dom0 gets 8x a guest's scheduler weight (credit2;
# the default is 256 for every domain, so 20 booting Linux guests would leave
# dom0 1/21 of the CPU): the toolstack and the backends that bring the
# guests up are not starved by the guests already booting. Measured on this
# rig: 12 of the Linux fleet's 20 creates had returned after 217 s, against
# 390 s at the default weight. Once the creates returned, dom0 is back at
# 256 (its ping rounds would otherwise slow the guests' boots).
dom0_weight() { xl sched-credit2 -d 0 -w "$1" 2>/dev/null || xl sched-credit -d 0 -w "$1" 2>/dev/null; }
CREATE_WEIGHT=2048
say "dom0-weight $CREATE_WEIGHT"
gip() { echo "10.0.$(( $1 + $2 / 240 )).$(( 10 + $2 % 240 ))"; }

# gcfg NAME KIND MEM IP SUBNET I: a fleet guest's config (no disk)
gcfg() {
    {
        cfg_common "$1" pv "$3" destroy
        case $2 in
        linux) linux_cfg " benchip=$4" ;;
        *) echo "kernel = \"$PWD/udp-echo.xen\"" ;;
        esac
        printf "vif = [ 'mac=00:16:3e:%02x:%02x:%02x,ip=%s' ]\n" "$5" $(( $6 / 256 )) $(( $6 % 256 )) "$4"
    } > "$1.cfg"
}

# answers IP: one ping answered within a second
answers() { ping -c 1 -W 1 "$1" > /dev/null 2>&1; }
# echoes IP: 20 UDP echoes of 64 bytes, all back
echoes() { timeout 15 "$B" udp "$1" 7 20 64 4 500 10 | grep -q 'echoed=20 '; }
now() { cut -d' ' -f1 /proc/uptime; }
since() { awk "BEGIN{printf \"%.2f\", $(now) - $1}"; }
# dom0's used memory (MemTotal - MemAvailable), KiB
dom0_used() { awk '/^MemTotal/ {t = $2} /^MemAvailable/ {a = $2} END {print t - a}' /proc/meminfo; }
xen_free() { xl info | awk -F' *: *' '/^free_memory/ {print $2}'; }
avail() { awk '/^MemAvailable/ {print $2}' /proc/meminfo; }
# xenstored's resident memory (KiB) and the event channels bound in dom0
# (its xen-dyn interrupts: each vif's backend, each console)
xs_rss() { awk '/^VmRSS/ {print $2}' "/proc/$(cat /run/xenstore.pid 2>/dev/null)/status" 2>/dev/null || echo -1; }
evtchns() { grep -c 'xen-dyn' /proc/interrupts; }

# floor: the smallest memory= (MiB, from FLOOR_SCAN, ascending) at which
# udp-echo boots and answers ping and 20 UDP echoes; sets FLOOR.
FLOOR=
for m in $FLOOR_SCAN; do
    gcfg ffloor tsxen "$m" 10.0.1.10 1 0
    ok=0
    if timeout 60 xl create -q ffloor.cfg > ffloor.create 2>&1; then
        i=0; until answers 10.0.1.10; do i=$((i + 1)); [ $i -ge 20 ] && break; sleep 0.1; done
        answers 10.0.1.10 && echoes 10.0.1.10 && ok=1
        [ $ok = 1 ] || tail -n 3 /var/log/xen/guest-ffloor.log 2>/dev/null | tr -d '\r' | sed "s/^/BENCH memlog floor mem=$m | /"
    else
        say "create-failed floor mem=$m $( (grep -m 1 'xc_dom\|too large\|panic\|error' ffloor.create || tail -n 1 ffloor.create) | tr '\n' ' ')"
    fi
    say "floor tsxen mem=$m pass=$ok"
    timeout 30 xl destroy ffloor 2>/dev/null
    ip neigh flush dev xenbr0 2>/dev/null
    [ $ok = 1 ] && { FLOOR=$m; break; }
done

# await_all PREFIX SUBNET N T0 MAX_S: pings guests PREFIX0..N-1 (32 at a
# time, in parallel) until each has answered once or MAX_S seconds passed
# since T0; each answering guest gets a PREFIXi.up file.
await_all() {
    local i left batch
    while :; do
        left=0; batch=0
        for i in $(seq 0 $(( $3 - 1 ))); do
            [ -e "$1$i.up" ] && continue
            left=$((left + 1)); batch=$((batch + 1))
            ( answers "$(gip "$2" "$i")" && touch "$1$i.up" ) &
            [ $batch -ge 32 ] && { wait; batch=0; }
        done
        wait
        [ $left = 0 ] && return 0
        [ "$(awk "BEGIN{print ($(now) - $4 > $5)}")" = 1 ] && return 1
        sleep 1   # a round forks a ping per silent guest: leave the CPU to the booting ones
    done
}

# check_all PREFIX SUBNET N: "pinged=P echoed=E" over guests PREFIX0..N-1
check_all() {
    local i p=0 e=0
    for i in $(seq 0 $(( $3 - 1 ))); do
        answers "$(gip "$2" "$i")" && p=$((p + 1))
        echoes "$(gip "$2" "$i")" && e=$((e + 1))
    done
    echo "pinged=$p echoed=$e"
}

# destroy_all PREFIX N: xl destroy of PREFIX0..N-1, 16 at a time
destroy_all() {
    local i
    for i in $(seq 0 $(( $2 - 1 ))); do
        timeout 60 xl destroy "$1$i" 2>/dev/null &
        [ $((i % 16)) = 15 ] && wait
    done
    wait
    ip neigh flush dev xenbr0 2>/dev/null
}

# fleet KIND MEM COUNT SUBNET: `xl create` of COUNT guests at once (background
# jobs); the time from the first create to every guest answering a ping, then
# a ping and UDP echo check of each; then all are destroyed.
# The creates overlap only in part: libxl builds the domains at once, but
# their vifs come up one after another (each create waits for its hotplug
# script; under TCG ~4 s each for tsxen, 15-30 s for Linux, whose booting
# guests take the one CPU from dom0), so the last create returns minutes
# later. A create is bounded only by the fleet's bound: a create killed
# midway leaves a domain that is built but never unpaused (the first
# round's bound of 300 s did that: 1 tsxen guest silent, 8 Linux creates
# "failed"). Creates that failed and guests that never answered are
# reported with xl's and the guest's last words.
fleet() {
    local i t0 created=0 answered=0 tcreate tall rc retried=0
    for i in $(seq 0 $(( $3 - 1 ))); do gcfg "f$1$i" "$1" "$2" "$(gip "$4" "$i")" "$4" "$i"; rm -f "f$1$i.up" "f$1$i.rc"; done
    dom0_weight "$CREATE_WEIGHT"
    t0=$(now)
    for i in $(seq 0 $(( $3 - 1 ))); do
        ( timeout "$FLEET_MAX_S" xl create -q "f$1$i.cfg" > "f$1$i.create" 2>&1; echo $? > "f$1$i.rc" ) &
    done
    wait
    # A create that failed (typically libxl's fixed 10 s wait for netback to
    # reach InitWait, missed while dom0's xenwatch thread is busy with the
    # other guests' devices) is retried once, as an operator would, after
    # the others returned; reported as failed, and counted as retried.
    for i in $(seq 0 $(( $3 - 1 ))); do
        rc=$(cat "f$1$i.rc" 2>/dev/null)
        [ "$rc" = 0 ] && continue
        say "fleet-create-failed $1 $i rc=$rc$([ "$rc" = 124 ] && echo " (killed at the ${FLEET_MAX_S} s bound)") $(grep -v '^Parsing config' "f$1$i.create" | tail -n 3 | tr '\n' ' ' | cut -c1-300)"
        [ "$rc" = 124 ] && continue
        timeout 30 xl destroy "f$1$i" 2>/dev/null
        retried=$((retried + 1))
        timeout "$FLEET_MAX_S" xl create -q "f$1$i.cfg" > "f$1$i.create" 2>&1; echo $? > "f$1$i.rc"
        rc=$(cat "f$1$i.rc")
        [ "$rc" = 0 ] || say "fleet-create-failed $1 $i rc=$rc (retry) $(grep -v '^Parsing config' "f$1$i.create" | tail -n 3 | tr '\n' ' ' | cut -c1-300)"
    done
    tcreate=$(since "$t0")
    dom0_weight 256
    for i in $(seq 0 $(( $3 - 1 ))); do [ "$(cat "f$1$i.rc" 2>/dev/null)" = 0 ] && created=$((created + 1)); done
    await_all "f$1" "$4" "$3" "$t0" "$FLEET_MAX_S"
    tall=$(since "$t0")
    for i in $(seq 0 $(( $3 - 1 ))); do
        if [ -e "f$1$i.up" ]; then answered=$((answered + 1))
        else say "fleet-silent $1 $i state=$(xl list "f$1$i" 2>/dev/null | awk 'NR == 2 {print $5}') console: $(tail -n 2 "/var/log/xen/guest-f$1$i.log" 2>/dev/null | tr -d '\r' | tr '\n' ' ' | cut -c1-200)"
        fi
    done
    say "fleet $1 n=$3 mem=$2 created=$created retried=$retried answered=$answered $(check_all "f$1" "$4" "$3") create_all_s=$tcreate all_answer_s=$tall$([ $answered = "$3" ] || echo " incomplete=1") dom0_used_kib=$(dom0_used) xen_free_mib=$(xen_free)"
    destroy_all "f$1" "$3"
}

# density KIND MEM SUBNET MAX_S [keep]: `xl create` of one guest after
# another (each its own vif and address) until a create fails, dom0's
# MemAvailable drops below 48 MiB, DENSITY_MAX guests or MAX_S seconds;
# then waits until every created guest answers a ping (bounded) and checks
# each with a ping and 20 UDP echoes. The fleet stays up with "keep".
density() {
    local n=0 t0 c0 why="" used0 free0 xs0 ev0 err tcreate tall answered=0 i last=0
    used0=$(dom0_used); free0=$(xen_free); xs0=$(xs_rss); ev0=$(evtchns)
    dom0_weight "$CREATE_WEIGHT"
    t0=$(now)
    while :; do
        [ $n -ge "$DENSITY_MAX" ] && { why=max-count; break; }
        [ "$(awk "BEGIN{print ($(now) - $t0 > $4)}")" = 1 ] && { why="time-bound ($4 s)"; break; }
        [ "$(avail)" -lt 49152 ] && { why="dom0-memory (MemAvailable < 48 MiB)"; break; }
        gcfg "d$1$n" "$1" "$2" "$(gip "$3" "$n")" "$3" "$n"; rm -f "d$1$n.up"
        c0=$(now)
        if ! timeout 120 xl create -q "d$1$n.cfg" > "d$1$n.create" 2>&1; then
            err=$( (grep -m 1 -i 'error\|fail\|memory' "d$1$n.create" || tail -n 1 "d$1$n.create") | tr '\n' ' ' | tr -s ' ' | cut -c1-300)
            why="create-failed: $err"; timeout 30 xl destroy "d$1$n" 2>/dev/null; break
        fi
        last=$(since "$c0")
        n=$((n + 1))
        [ $((n % 10)) = 0 ] && say "density-progress $1 n=$n s=$(since "$t0") last_create_s=$last dom0_used_kib=$(dom0_used) xen_free_mib=$(xen_free) xenstored_rss_kib=$(xs_rss) dom0_evtchns=$(evtchns)"
    done
    tcreate=$(since "$t0")
    dom0_weight 256
    await_all "d$1" "$3" "$n" "$(now)" "$DENSITY_ANSWER_S"
    tall=$(since "$t0")
    for i in $(seq 0 $((n - 1))); do [ -e "d$1$i.up" ] && answered=$((answered + 1)); done
    say "density $1 mem=$2 started=$n answered=$answered $(check_all "d$1" "$3" "$n") create_s=$tcreate fleet_s=$tall last_create_s=$last dom0_used0_kib=$used0 dom0_used_kib=$(dom0_used) dom0_avail_kib=$(avail) xen_free0_mib=$free0 xen_free_mib=$(xen_free) xenstored_rss0_kib=$xs0 xenstored_rss_kib=$(xs_rss) dom0_evtchns0=$ev0 dom0_evtchns=$(evtchns) domains=$(xl list | tail -n +2 | wc -l) stop=$why"
    say "density-dom0 $1 $(xl list Domain-0 | tail -n 1 | tr -s ' ') $(grep -m 1 Slab /proc/meminfo | tr -s ' ')"
    [ "$5" = keep ] || destroy_all "d$1" "$n"
}

if [ -n "$FLOOR" ] && [ "$FLEET_N" -gt 0 ]; then fleet tsxen "$FLOOR" "$FLEET_N" 1; fi
if [ -n "$LINUX_FLOOR" ] && [ "$FLEET_N" -gt 0 ]; then fleet linux "$LINUX_FLOOR" "$FLEET_N" 2; fi
if [ -n "$LINUX_FLOOR" ] && [ "$DENSITY_MAX" -gt 0 ]; then density linux "$LINUX_FLOOR" 3 "$DENSITY_LINUX_S"; fi
if [ -n "$FLOOR" ] && [ "$DENSITY_MAX" -gt 0 ]; then density tsxen "$FLOOR" 5 "$DENSITY_TSXEN_S" keep; fi
say "done"
exit 0
