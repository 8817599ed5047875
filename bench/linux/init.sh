#!/bin/busybox sh
# bench/linux/init.sh: /init of the Linux PV domU of `make bench` (busybox).
# First command prints the boot marker; then net (eth0 10.0.0.2/24, or
# benchip= from the command line, UDP echo
# on port 7, TCP discard on 9 and a 64 MiB source on 19 (benchtool), busybox
# httpd on 80 serving /www/index.html, the same page as tsxen's
# examples/http-server), then, if /dev/xvda shows up, one whole-disk
# direct-I/O dd write and read (bs=1M), timed inside the domU; then
# "BENCH ready".
/bin/busybox echo "BENCH-INIT linux /init reached"
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
# benchip=A.B.C.D on the kernel command line (bench.sh's fleets): else 10.0.0.2
IP=$(sed -n 's/.*benchip=\([0-9.]*\).*/\1/p' /proc/cmdline)
[ -n "$IP" ] || IP=10.0.0.2
insmod /xen-netfront.ko
insmod /xen-blkfront.ko
i=0; until [ -e /sys/class/net/eth0 ]; do i=$((i+1)); [ $i -gt 200 ] && break; sleep 0.05; done
ip link set lo up
ip addr add $IP/24 dev eth0 && ip link set eth0 up
/benchtool echo 7 &
/benchtool tcpsink 9 &
/benchtool tcpsource 19 67108864 &
httpd -p 80 -h /www
echo "BENCH net-up"
i=0; until [ -b /dev/xvda ]; do i=$((i+1)); [ $i -gt 200 ] && break; sleep 0.05; done
if [ -b /dev/xvda ]; then
    echo "BENCH blk start"   # the start of the write's guest-CPU window (bench/dom0/bench.sh), as tsxen's
    w=$(/benchtool time dd if=/dev/zero of=/dev/xvda bs=1M count=64 oflag=direct 2>/dev/null)
    echo "BENCH blk write bytes=67108864 $w"
    r=$(/benchtool time dd if=/dev/xvda of=/dev/null bs=1M count=64 iflag=direct 2>/dev/null)
    echo "BENCH blk read bytes=67108864 $r"
fi
echo "BENCH ready $(grep MemTotal /proc/meminfo | tr -s ' ')"
while :; do sleep 3600; done
