#!/usr/bin/env bash
# bench/linux/build-initrd.sh OUT.cpio.gz BENCHTOOL RIG_DIR
# Builds the Linux PV domU initramfs of `make bench`: the host's static
# busybox, benchtool (static), /init (init.sh), /www/index.html for busybox
# httpd, and xen-netfront/xen-blkfront
# from the same Debian kernel .deb the rig's dom0 kernel comes from.
set -euo pipefail
out=$1 tool=$2 rig=$3
here=$(dirname "$(realpath "$0")")
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
deb=$(ls "$rig"/debs/linux-image-*.deb | head -n 1)
dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$stage" --wildcards \
    './lib/modules/*/kernel/drivers/net/xen-netfront.ko' './lib/modules/*/kernel/drivers/block/xen-blkfront.ko'
mv "$stage"/lib/modules/*/kernel/drivers/net/xen-netfront.ko "$stage"/lib/modules/*/kernel/drivers/block/xen-blkfront.ko "$stage/"
rm -rf "$stage/lib"
mkdir -p "$stage"/{bin,proc,sys,dev,www}
cp "$here/index.html" "$stage/www/index.html"
mknod -m 600 "$stage/dev/console" c 5 1
cp /bin/busybox "$stage/bin/busybox"
install -m 755 "$tool" "$stage/benchtool"
install -m 755 "$here/init.sh" "$stage/init"
(cd "$stage" && find . | LC_ALL=C sort | /bin/busybox cpio -o -H newc -R 0:0 2>/dev/null) | gzip -9 > "$out"
