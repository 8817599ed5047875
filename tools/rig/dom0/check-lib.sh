# check-lib.sh: shell functions for the scenarios' dom0 check scripts
# (harness.ts Scenario.check), installed in dom0 as /etc/tsxen/check-lib.sh:
#   . /etc/tsxen/check-lib.sh
# They read $name and $log (check.sh's third and fourth arguments), set
# before it is sourced.
# Waits poll every 0.25 s: under TCG each grep costs dom0 about 20 ms of the
# one emulated CPU, which the guest under test needs too (and each fork
# more: the polls fork only for the grep).
#   up_ms                           dom0's uptime in ms
#   guest_log                       the guest's console so far
#   console_count PATTERN           how many of its lines match (grep regex)
#   wait_console PATTERN [N [SECS]] until N lines match (1, 30 s): else says so, fails
#   wait_file PATTERN FILE [SECS]   until a line of FILE matches (30 s): else says so, fails

up_ms() { awk '{ printf "%d", $1 * 1000 }' /proc/uptime; }

# A migrated guest's console goes on in the log xenconsoled opened for its
# incoming name ("<name>--incoming"): both are the guest's.
incoming_log=/var/log/xen/guest-$name--incoming.log
guest_log() { cat "$log" "$incoming_log" 2>/dev/null; }

# Sets COUNT to how many lines of the guest's console match $1: one grep,
# no other fork (a wait polls it).
count_console() {
    local n
    COUNT=0
    for n in $(grep -shc -- "$1" "$log" "$incoming_log"); do COUNT=$((COUNT + n)); done
}
console_count() { count_console "$1"; echo $COUNT; }

wait_console() {
    local want=${2:-1} polls=$(( ${3:-30} * 4 )) i=0
    until count_console "$1"; [ "$COUNT" -ge "$want" ]; do
        i=$((i + 1))
        [ $i -gt $polls ] && { echo "dom0: no $want x '$1' on the console within ${3:-30} s"; return 1; }
        sleep 0.25
    done
}

wait_file() {
    local polls=$(( ${3:-30} * 4 )) i=0
    until grep -qs -- "$1" "$2"; do
        i=$((i + 1))
        [ $i -gt $polls ] && { echo "dom0: no '$1' in $2 within ${3:-30} s"; return 1; }
        sleep 0.25
    done
}
