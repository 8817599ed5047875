#!/bin/busybox sh
# /init of the tsxen rig's dom0 (Debian 6.1 Linux under Xen 4.17, see ../rig.sh).
# Brings up the Xen toolstack and bridge xenbr0 (10.0.0.1/24, exists only in this
# emulated dom0), then runs each guest scenario in /scenarios/NN-name/ in
# lexical order and reports on hvc0 with lines harness.ts parses:
#   TSXEN-RIG <name> created domid=<id>
#   TSXEN-CONSOLE <name>| <guest console line>
#   TSXEN-CHECK <name>| <check.sh output line>
#   TSXEN-RIG <name> error <message>
#   TSXEN-RIG <name> result reason=<r> check=<rc|none> check_running=<rc|none> check_stopped=<rc|none> elapsed_ms=<n> console_lines=<n> check_lines=<n>
# (the last two count the CONSOLE and CHECK lines sent, so the harness can tell
# a line lost on the way from none written)
#   TSXEN-RIG all-done | TSXEN-RIG fatal <message>
#   MARK <event> uptime_ms=<n>
# A scenario dir holds guest.cfg (with on_* = "preserve", so the shut-down domain
# stays inspectable), the guest image, a `timeout` file (seconds) and optionally
# setup.sh (run before xl create), create.sh (creates and starts the domain
# itself instead of xl, e.g. with virsh) and check.sh (`running|stopped domid name log`).

/bin/busybox --install -s /bin
export PATH=/bin:/sbin:/usr/bin:/usr/sbin:/usr/lib/xen-4.17/bin

# Sets NOW to dom0's uptime in ms with shell builtins only: under TCG every
# fork costs the one emulated CPU, and the scenario loop reads the time often.
set_now() {
    local up cs
    read -r up _ < /proc/uptime
    cs=${up#*.}; cs=${cs#0}   # "07" would be read as octal
    NOW=$(( ${up%.*} * 1000 + cs * 10 ))
}
uptime_ms() { set_now; echo $NOW; }
say() { echo "TSXEN-RIG $*"; }
mark() { echo "MARK $1 uptime_ms=$(uptime_ms)"; }
fatal() {
    say "fatal $*"
    for f in /var/log/xen/*.log; do [ -e "$f" ] && { echo "---- $f"; cat "$f"; }; done
    xl dmesg 2>/dev/null | tail -n 40
    poweroff -f; sleep 30
}

mount_filesystems() {
    mount -t proc proc /proc
    mount -t sysfs sysfs /sys
    mount -t devtmpfs devtmpfs /dev
    mkdir -p /dev/pts /dev/shm && mount -t devpts devpts /dev/pts
    mount -t tmpfs tmpfs /run && mkdir -p /run/xen /run/xenstored
    mount -t tmpfs tmpfs /tmp
}

load_modules() {
    local dir=/lib/modules/$(uname -r)/kernel m
    for m in drivers/xen/xen-evtchn drivers/xen/xen-gntdev drivers/xen/xen-gntalloc \
             drivers/xen/xen-privcmd drivers/xen/xenfs/xenfs drivers/net/xen-netback/xen-netback \
             drivers/block/xen-blkback/xen-blkback drivers/block/loop net/llc/llc net/802/stp \
             net/bridge/bridge; do
        insmod "$dir/$m.ko" || fatal "insmod $m"
    done
}

start_toolstack() {
    mount -t xenfs xenfs /proc/xen || fatal "mount xenfs"
    xenstored --pid-file /run/xenstore.pid || fatal "xenstored"
    local i=0
    until xenstore-read -s / >/dev/null 2>&1; do
        i=$((i + 1)); [ $i -gt 300 ] && fatal "xenstored not answering"; sleep 0.1
    done
    xen-init-dom0 || fatal "xen-init-dom0"
    xenconsoled --pid-file /run/xenconsoled.pid --log=guest --log-dir=/var/log/xen || fatal "xenconsoled"
}

start_bridge() {
    ip link set lo up
    brctl addbr xenbr0 || fatal "brctl addbr xenbr0"
    ip addr add 10.0.0.1/24 dev xenbr0 || fatal "address on xenbr0"
    ip link set xenbr0 up || fatal "xenbr0 up"
}

# Host devices QEMU may give dom0 (harness.ts, `tsxen run --forward/--disk`):
# a virtio-net NIC on QEMU's user network (10.0.0.254, with the host port
# forwards), put on xenbr0 so forwarded traffic reaches the guests' vifs
# directly; virtio-blk disks backed by host files, each with a serial
# "tsxen-diskN" that becomes /dev/tsxen-diskN here (an xl disk target); and
# host directories shared over 9p, mounted at /mnt/<tag>.
attach_host_devices() {
    local dir=/lib/modules/$(uname -r)/kernel m b serial tag
    grep -qs 0x1af4 /sys/bus/pci/devices/*/vendor || return 0   # no virtio device
    for m in drivers/virtio/virtio_ring drivers/virtio/virtio drivers/virtio/virtio_pci_legacy_dev \
             drivers/virtio/virtio_pci_modern_dev drivers/block/virtio_blk net/core/failover \
             drivers/net/net_failover drivers/net/virtio_net drivers/virtio/virtio_pci; do
        insmod "$dir/$m.ko" || fatal "insmod $m"
    done
    for b in /sys/block/vd*; do
        [ -e "$b/serial" ] || continue
        serial=$(cat "$b/serial")
        case $serial in tsxen-disk*) ln -s "/dev/${b##*/}" "/dev/$serial" ;; esac
    done
    if [ -e /sys/class/net/eth0 ]; then
        ip link set eth0 up && brctl addif xenbr0 eth0 || fatal "eth0 onto xenbr0"
        # No unknown-unicast flooding to QEMU's port: slirp takes any IPv4
        # frame it is handed, so a ping flooded there (the guest's MAC not
        # yet learned) came back twice, answered by slirp as well (ttl 255).
        # Nor broadcasts: slirp runs a DHCP server (leases from 10.0.0.200)
        # that answered guests' DHCP before dom0's udhcpd did. slirp still
        # gets frames for its own MAC, which the bridge learns from its ARP
        # requests when a forwarded connection comes in.
        echo 0 > /sys/class/net/eth0/brport/unicast_flood || fatal "eth0: unicast_flood off"
        echo 0 > /sys/class/net/eth0/brport/broadcast_flood || fatal "eth0: broadcast_flood off"
    fi
    # host directories shared over 9p (virtio device id 9), mounted read-only at /mnt/<tag>
    if grep -qs 0x0009 /sys/bus/virtio/devices/*/device; then
        for m in net/9p/9pnet net/9p/9pnet_virtio fs/netfs/netfs fs/fscache/fscache fs/9p/9p; do
            insmod "$dir/$m.ko" || fatal "insmod $m"
        done
        for b in /sys/bus/virtio/devices/*/mount_tag; do
            [ -e "$b" ] || continue
            tag=$(tr -d '\0' < "$b")
            mkdir -p "/mnt/$tag" &&
                mount -t 9p -o trans=virtio,version=9p2000.L,ro,cache=loose "$tag" "/mnt/$tag" ||
                fatal "mount 9p share $tag"
        done
    fi
    mark host-devices
}

# Commands from the host on the serial line (harness.ts RigControl; Xen
# passes serial input to dom0's console): "TSXEN-CMD shutdown" asks the
# running scenario's guest to shut down (xl shutdown), "TSXEN-CMD destroy"
# ends it at once (xl destroy, reason "destroyed"); see wait_for_shutdown.
read_host_commands() {
    stty -echo 2>/dev/null
    while read -r line; do
        case $line in
        "TSXEN-CMD shutdown") : > /run/tsxen-shutdown; echo command >&3 ;;
        "TSXEN-CMD destroy") : > /run/tsxen-destroy; echo command >&3 ;;
        esac
    done
}

# Prints lines of file $2, each prefixed with $1 and ended by a newline even
# if the file's last line is not (the next report must start a line), CRs
# dropped; from line $3 + 1 to line $4 (0 = all remaining lines, including
# an unterminated last one).
prefix_lines() {
    awk -v tag="$1" -v from="$(($3 + 1))" -v to="$4" \
        'NR >= from && (to == 0 || NR <= to) { gsub(/\r/, ""); print tag $0 }' "$2"
}
count_lines() { awk 'END { print NR }' "$@"; }
# The guest's console log after line $2 up to line $3 (0 = to the end); the
# caller tracks $2. The end line is counted once by the caller: the log
# grows while we read it.
console_lines() { prefix_lines "TSXEN-CONSOLE $NAME| " "$1" "$2" "$3"; }
# Sends the console's new whole lines (a partial one waits for its end);
# true if there were any.
stream_console() {
    local n
    n=$(($(wc -l < "$LOG")))
    [ "$n" -gt "$SHOWN" ] || return 1
    console_lines "$LOG" "$SHOWN" "$n"
    SHOWN=$n
}

# Reads the domain's state into REASON: "running", its shutdown reason, or
# "gone"; and its domid into LIVE_ID (one `xl list`: each costs dom0 about
# 250 ms under TCG). `xl list -v` prints the ID in column 2 and Reason-Code
# (hex, libxl_shutdown_reason) in column 8 once the domain has shut down, "-"
# before. The domain is looked up by name, so a guest restarted by
# on_reboot="restart" (a new domid) is followed.
read_domain() {
    local line code
    line=$(xl list -v "$NAME" 2>/dev/null | awk 'NR == 2 {print $2, $8}')
    LIVE_ID=${line%% *}; code=${line#* }
    case $code in
    '') REASON=gone ;;
    -) REASON=running ;;
    0) REASON=poweroff ;;
    1) REASON=reboot ;;
    2) REASON=suspend ;;
    3) REASON=crash ;;
    4) REASON=watchdog ;;
    5) REASON=soft_reset ;;
    *) REASON="unknown-$code" ;;
    esac
}

# Domain changes come as xenstore watch events: xenstored fires
# @releaseDomain whenever a domain shuts down or dies and @introduceDomain
# when one is created (a restart, a restore, a migration's receiving side);
# the xenstore-watch processes started by start_domain_watches write a line
# per event to fd 3 (a fifo), and so does read_host_commands for a host
# command. Waiting on that instead of polling matters here: under TCG one
# `xl list` costs dom0 about 250 ms of the one emulated CPU, and every fork
# about 10 ms, all taken from the guest under test.
start_domain_watches() {
    mkfifo /run/domain-events || fatal "mkfifo /run/domain-events"
    exec 3<> /run/domain-events   # read-write: opening it blocks neither side
    xenstore-watch @releaseDomain >&3 2>/dev/null &
    xenstore-watch @introduceDomain >&3 2>/dev/null &
}

# The domid of the domain named $1, from xenstore (/local/domain/<id>/name):
# one xenstore-list and one xenstore-read per guest domain.
domid_of() {
    local id
    for id in $(xenstore-list /local/domain 2>/dev/null); do
        [ "$id" != 0 ] && [ "$(xenstore-read "/local/domain/$id/name" 2>/dev/null)" = "$1" ] && { echo "$id"; return 0; }
    done
    return 1
}

# XL_FIELD: what follows $1 on the last line of xl's monitor log (the
# process `xl create` leaves behind: /var/log/xen/xl-<name>.log) that
# starts with $1, up to the first $2; empty if no line does. Shell builtins
# only: a xenstore-read costs dom0 about 100 ms under TCG, an `xl list`
# about 200 ms.
xl_log_field() {
    local line
    XL_FIELD=
    while IFS= read -r line; do
        case $line in "$1"*) line=${line#"$1"}; XL_FIELD=${line%%"$2"*} ;; esac
    done < "$XL_LOG"
}

# The domid xl's monitor logged for the domain it created ("Waiting for
# domain <name> (domid <id>) to die"), into LOGGED_ID. False if it is not
# there within a second.
logged_domid() {
    local i=0
    while [ $i -lt 20 ]; do
        xl_log_field "Waiting for domain $NAME (domid " ")"
        LOGGED_ID=$XL_FIELD
        [ -n "$LOGGED_ID" ] && return 0
        i=$((i + 1)); sleep 0.05
    done
    return 1
}

# A final shutdown of domain DOMID that xl's monitor has logged ("Domain
# <id> has shut down, reason code <n> 0x<n>"), into REASON: poweroff,
# crash, watchdog, or a reboot xl does not restart. False for anything else
# (not logged yet, a suspend, a reboot xl restarts): read_domain decides.
logged_shutdown() {
    xl_log_field "Domain $DOMID has shut down, reason code " " "
    case $XL_FIELD in
    0) REASON=poweroff ;;
    1) [ -z "$RESTART_ON_REBOOT" ] || return 1; REASON=reboot ;;
    3) REASON=crash ;;
    4) REASON=watchdog ;;
    *) return 1 ;;
    esac
    LIVE_ID=$DOMID
}

# Drops the domain events read so far (those of a domain we just created).
drop_domain_events() {
    local ev
    while read -t 0.01 ev <&3; do :; done
}

# Waits up to $1 s for an event on fd 3; true if one (or more) came.
domain_event() {
    local ev
    read -t "$1" ev <&3 || return 1
    while read -t 0.01 ev <&3; do :; done   # a burst is one reason to look
    return 0
}

# Waits for the domain to shut down or the scenario timeout; sets REASON. A
# timed-out domain is paused, so `check.sh stopped` still finds it, and is
# destroyed with the others at the end of the scenario. A domain that is gone
# for a moment is being restarted by xl: wait (10 s at most) for the new one.
# The domain's state is read at the start, after each domain event, every
# second while it is in between domains (restart, restore, migration), and
# every 10 s anyway. The loop wakes on an event, a host command, or after
# 0.2 s while the console is busy and 1 s while it is quiet (the console's
# lines reach the host that much later; checks read the log themselves).
# With $2 = running, the caller has just started the domain (DOMID) and
# dropped the events of its creation: the first look waits for an event.
wait_for_shutdown() {
    local deadline gone_since= look=1 looked=0 now every nap=0.2
    set_now; deadline=$(( NOW + $1 * 1000 ))
    if [ "$2" = running ]; then REASON=running; LIVE_ID=$DOMID; look=; looked=$NOW; fi
    while :; do
        if stream_console; then nap=0.2; else nap=1; fi
        set_now; now=$NOW
        every=10000; [ -n "$gone_since" ] && every=1000
        if [ -n "$look" ] || [ $((now - looked)) -ge $every ]; then
            looked=$now
            logged_shutdown && return 0
            read_domain
            # With on_reboot="restart", xl's monitor replaces a rebooted domain
            # shortly: until it has, the old one shows reason reboot or is gone.
            # `xl save`/`xl migrate` shut it down as "suspend", then it is gone
            # until `xl restore` (or the receiving side) brings it back by name.
            if [ "$REASON" = gone ] || [ "$REASON" = suspend ] || { [ "$REASON" = reboot ] && [ -n "$RESTART_ON_REBOOT" ]; }; then
                [ -n "$gone_since" ] || gone_since=$now
                [ $((now - gone_since)) -lt 10000 ] || return 0
            elif [ "$REASON" = running ]; then
                if [ -n "$LIVE_ID" ] && [ "$LIVE_ID" != "$DOMID" ]; then DOMID=$LIVE_ID; say "$NAME restarted domid=$DOMID"; fi
                gone_since=
            else
                return 0
            fi
        fi
        if [ -e /run/tsxen-destroy ]; then
            rm -f /run/tsxen-destroy /run/tsxen-shutdown
            xl destroy "$NAME" >/dev/null 2>&1
            REASON=destroyed; return 0
        fi
        if [ -e /run/tsxen-shutdown ] && [ "$REASON" = running ]; then
            rm -f /run/tsxen-shutdown
            say "$NAME shutdown-requested"
            xl shutdown "$NAME" >/dev/null 2>&1
        fi
        if [ "$now" -ge "$deadline" ]; then
            REASON=timeout; xl pause "$NAME"; return 0
        fi
        look=; domain_event $nap && look=1
    done
}

# xenconsoled may still be copying the last ring contents into the log: wait
# (bounded) until the log stops growing.
settle_log() {
    local i=0 size last=-1
    while [ $i -lt 20 ]; do
        size=$(stat -c %s "$LOG")
        [ "$size" = "$last" ] && return 0
        last=$size; i=$((i + 1)); sleep 0.15
    done
}

# run_check PHASE TIMEOUT_S: execs, so call it in a subshell or in the background
# (then $! is check.sh itself: busybox timeout execs the program in its own pid).
run_check() {
    cd "$DIR" && exec timeout "$2" sh ./check.sh "$1" "$DOMID" "$NAME" "$LOG" > "$DIR/check-$1.out" 2>&1
}
show_check_output() {
    for f in "$DIR/check-running.out" "$DIR/check-stopped.out"; do
        [ -s "$f" ] && prefix_lines "TSXEN-CHECK $NAME| " "$f" 0 0
    done
}
# How many lines show_check_output printed.
check_line_count() {
    local f n=0
    for f in "$DIR/check-running.out" "$DIR/check-stopped.out"; do
        [ -s "$f" ] && n=$((n + $(count_lines "$f")))
    done
    echo $n
}
# Waits up to 10 s for the background `check.sh running`, then kills it.
reap_running_check() {
    local i=0
    while kill -0 "$1" 2>/dev/null && [ $i -lt 50 ]; do i=$((i + 1)); sleep 0.2; done
    kill "$1" 2>/dev/null
    wait "$1"
}

# Reports a scenario that could not be started.
not_run() {
    say "$NAME error $1"
    say "$NAME result reason=not-run check=none check_running=none check_stopped=none elapsed_ms=$(( $(uptime_ms) - T0 )) console_lines=0 check_lines=0"
}

run_scenario() {
    DIR=$1; NAME=${DIR##*/}; NAME=${NAME#*-}
    LOG=/var/log/xen/guest-$NAME.log; SHOWN=0; DOMID=
    XL_LOG=/var/log/xen/xl-$NAME.log
    local tmo=60 check_pid= rc_run=none rc_stop=none check=none started= line
    # (builtins only, no fork: see set_now)
    RESTART_ON_REBOOT=
    while IFS= read -r line; do
        [ "$line" = 'on_reboot = "restart"' ] && RESTART_ON_REBOOT=1
    done < "$DIR/guest.cfg"
    [ -f "$DIR/timeout" ] && read -r tmo < "$DIR/timeout"
    set_now; T0=$NOW
    # Scenarios reuse guest addresses with other MACs (10.0.0.2 is :12 in
    # one, :02 in the next): forget the last guest's, or dom0's first
    # packets go to a MAC nobody has any more.
    ip neigh flush dev xenbr0 2>/dev/null

    if [ -f "$DIR/setup.sh" ]; then
        (cd "$DIR" && exec sh ./setup.sh) || { not_run "setup.sh failed rc=$?"; return; }
    fi
    : > "$LOG"   # exists before xenconsoled opens it (it appends)
    : > "$XL_LOG"   # only this scenario's monitor lines (logged_domid, logged_shutdown)
    if [ -f "$DIR/create.sh" ]; then
        # the scenario creates and starts the domain itself (virsh create, ...)
        local rc=0
        (cd "$DIR" && exec sh ./create.sh) || rc=$?
        [ $rc = 0 ] || { cat /var/log/xen/hotplug.log 2>/dev/null; not_run "create.sh failed rc=$rc"; return; }
        DOMID=$(domid_of "$NAME") || { not_run "no domid for $NAME"; return; }
        say "$NAME created domid=$DOMID"
    else
        if ! xl create -p "$DIR/guest.cfg"; then
            cat /var/log/xen/hotplug.log 2>/dev/null
            not_run "xl create failed"; return
        fi
        if logged_domid; then DOMID=$LOGGED_ID
        else DOMID=$(domid_of "$NAME") || { not_run "no domid for $NAME"; xl destroy "$NAME"; return; }
        fi
        say "$NAME created domid=$DOMID"
        # the creation's own events, before the guest can make any
        drop_domain_events
        xl unpause "$DOMID" || { not_run "xl unpause failed"; xl destroy "$DOMID"; return; }
        started=running
    fi
    if [ -f "$DIR/check.sh" ]; then
        run_check running $((tmo + 10)) & check_pid=$!
    fi

    wait_for_shutdown "$tmo" "$started"
    settle_log
    local total; total=$(count_lines "$LOG")
    console_lines "$LOG" "$SHOWN" "$total"

    if [ -n "$check_pid" ]; then
        (run_check stopped 30); rc_stop=$?
        reap_running_check "$check_pid"; rc_run=$?
        check=$rc_run; [ "$check" -eq 0 ] && check=$rc_stop
        show_check_output
    fi
    [ "$REASON" = gone ] && say "$NAME error domain vanished before its shutdown reason was read"
    say "$NAME result reason=$REASON check=$check check_running=$rc_run check_stopped=$rc_stop elapsed_ms=$(( $(uptime_ms) - T0 )) console_lines=$total check_lines=$(check_line_count)"
    # The domain is preserved (on_poweroff, on_crash) or paused at a
    # timeout: destroy it (by its domid, known here). One that vanished may
    # have come back under its name.
    case $REASON in
    destroyed) ;;
    gone) domid_of "$NAME" >/dev/null && xl destroy "$NAME" 2>/dev/null ;;
    *) xl destroy "$DOMID" 2>/dev/null ;;
    esac
}

mount_filesystems
mark init-start
# Linux 6.1 leaves the CRNG unseeded for a while and libuuid (via xl) then sleeps
# ~3 s per `xl create`; a blocking read makes the kernel seed it from CPU jitter now.
(head -c 1 /dev/random > /dev/null) &
load_modules
start_toolstack
start_domain_watches
mark toolstack-up
start_bridge
attach_host_devices
read_host_commands < /dev/console &
mark commands-ready
for dir in /scenarios/*/; do
    [ -f "$dir/guest.cfg" ] && run_scenario "${dir%/}"
done
say all-done
poweroff -f
sleep 30
