#!/usr/bin/env bash
# tools/rig/rig.sh prepare [libvirt]
#
# Prepares the cached inputs of the real-Xen test rig (Xen 4.17 + Debian 6.1
# Linux dom0 booted in QEMU/TCG, see harness.ts):
#   xen.elf            Debian's Xen hypervisor, gunzipped (QEMU cannot multiboot the .gz)
#   vmlinux            Debian's dom0 kernel as a plain ELF (saves seconds of xz inside Xen)
#   dom0-base.cpio.gz  dom0 initramfs: busybox, toolstack + libs, modules, dom0/ scripts
#   libvirt/           (`prepare libvirt` only) libvirtd with its libxl driver, virsh and
#                      their libraries from Debian 12's debs: a tree QEMU shares with dom0
#                      over 9p (read on demand, so the initramfs does not grow)
# into ${TSXEN_RIG_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/tsxen/rig}. Every step is
# skipped when its output is already there; the initramfs is rebuilt whenever
# this script or anything under dom0/ changes. Host tools are installed with
# apt-get when missing (CI starts from a fresh Debian 12).
set -euo pipefail

SRC=$(dirname "$(realpath "$0")")
RIG_DIR=${TSXEN_RIG_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/tsxen/rig}
XEN_BIN=usr/lib/xen-4.17/bin
XEN_PKGS=(xen-hypervisor-4.17-amd64 xen-utils-4.17 xenstore-utils libxenmisc4.17
          libxencall1 libxenevtchn1 libxenforeignmemory1 libxengnttab1 libxenstore4
          libxentoollog1 libxentoolcore1 libxenhypfs1 libxendevicemodel1 libyajl2)
# Modules dom0 needs, relative to lib/modules/<kver>/kernel (Debian ships them uncompressed).
MODULES=(drivers/xen/xen-evtchn drivers/xen/xen-gntdev drivers/xen/xen-gntalloc
         drivers/xen/xen-privcmd drivers/xen/xenfs/xenfs drivers/net/xen-netback/xen-netback
         drivers/block/xen-blkback/xen-blkback drivers/block/loop net/llc/llc net/802/stp
         net/bridge/bridge
         # host devices QEMU gives dom0 for `tsxen run --forward/--disk` (virtio-net, virtio-blk);
         # /init loads them only when such a device is present
         drivers/virtio/virtio_ring drivers/virtio/virtio drivers/virtio/virtio_pci_legacy_dev
         drivers/virtio/virtio_pci_modern_dev drivers/virtio/virtio_pci drivers/block/virtio_blk
         net/core/failover drivers/net/net_failover drivers/net/virtio_net
         # host directories shared with dom0 over 9p (the libvirt tree)
         net/9p/9pnet net/9p/9pnet_virtio fs/netfs/netfs fs/fscache/fscache fs/9p/9p)
# libvirt 9.0 (libvirtd, its libxl driver for Xen 4.17, virsh) and the libraries they
# link that dom0-base lacks; rig.sh checks with ldd that the list is complete.
LIBVIRT_PKGS=(libvirt0 libvirt-daemon libvirt-daemon-driver-xen libvirt-clients
              libacl1 libapparmor1 libaudit1 libblkid1 libbrotli1 libcap-ng0 libcom-err2
              libcurl3-gnutls libffi8 libglib2.0-0 libgmp10 libgnutls30 libgssapi-krb5-2
              libhogweed6 libicu72 libidn2-0 libk5crypto3 libkeyutils1 libkrb5-3 libkrb5support0
              libldap-2.5-0 libmount1 libnettle8 libnghttp2-14 libnl-3-200 libnuma1 libp11-kit0
              libpcre2-8-0 libpsl5 libreadline8 librtmp1 libsasl2-2 libselinux1 libssh-4 libssh2-1 libssl3
              libstdc++6 libtasn1-6 libtinfo6 libtirpc3 libunistring2 libxml2)

say() { echo "rig: $*" >&2; }
die() { echo "rig: error: $*" >&2; exit 1; }

SUDO=()
[ "$(id -u)" -eq 0 ] || SUDO=(sudo)
APT_UPDATED=
apt_update_once() {
    [ -n "$APT_UPDATED" ] && return
    say "apt-get update"
    "${SUDO[@]}" apt-get update -qq || die "apt-get update failed"
    APT_UPDATED=1
}

# The rig is built from Debian 12 packages: without apt there is no way to get them.
require_apt() {
    command -v apt-get >/dev/null && command -v apt-cache >/dev/null && return
    die "apt-get not found: tsxen run builds its Xen rig from Debian 12 packages (Xen 4.17, Linux, QEMU); run it on Debian 12 (bookworm) x86-64, e.g. in a debian:12 container"
}

mb() { awk -v b="$1" 'BEGIN {printf "%.1f", b / 1e6}'; }

# Downloads Debian packages into $1 (apt-get download, nothing is installed),
# printing progress every 2 s: the first run fetches ~72 MB.
download_debs() {
    local dir=$1 pkg p size total=0 got last= pid; shift
    # One apt-cache call for every package: each call loads apt's whole
    # package cache (about a second of CPU; the libvirt tree's 46 packages
    # took 55 s one by one).
    local -A size_of=()
    while read -r p size; do size_of[$p]=$size; done < <(apt-cache show --no-all-versions "$@" 2>/dev/null |
        awk '/^Package:/ {p = $2} /^Size:/ && p != "" {print p, $2; p = ""}')
    for pkg in "$@"; do
        size=${size_of[$pkg]:-}
        [ -n "$size" ] || die "Debian package $pkg has no installation candidate (needs Debian 12 bookworm main in apt sources)"
        total=$((total + size))
    done
    say "downloading $# Debian packages ($(mb $total) MB) into $dir"
    # As root, apt would try to download as _apt, which cannot write into $HOME.
    local sandbox=()
    [ "$(id -u)" -ne 0 ] || sandbox=(-o APT::Sandbox::User=root)
    (cd "$dir" && exec apt-get download -qq "${sandbox[@]}" "$@") & pid=$!
    while kill -0 "$pid" 2>/dev/null; do
        sleep 2
        got=$(du -sb "$dir" | cut -f1)
        [ "$got" = "$last" ] || say "downloaded $(mb "$got") of $(mb $total) MB"
        last=$got
    done
    wait "$pid" || die "apt-get download failed for: $*"
}

candidate_of() { apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ {print $2}'; }

# Installs the Debian packages that provide the host tools the rig uses.
ensure_host_tools() {
    local missing=() cmd pkg
    for pair in qemu-system-x86_64:qemu-system-x86 nasm:nasm xz:xz-utils dpkg-deb:dpkg; do
        cmd=${pair%%:*}; pkg=${pair#*:}
        command -v "$cmd" >/dev/null || missing+=("$pkg")
    done
    # busybox must be the static build: it runs inside dom0 without host libraries.
    dpkg -s busybox-static >/dev/null 2>&1 || missing+=(busybox-static)
    [ ${#missing[@]} -eq 0 ] && return
    [ ${#SUDO[@]} -eq 0 ] || command -v sudo >/dev/null ||
        die "these Debian packages are missing and installing them needs root (no sudo here): apt-get install ${missing[*]}"
    apt_update_once
    say "installing Debian packages: ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null || die "apt-get install failed for: ${missing[*]}"
}

# The kernel image package that the linux-image-amd64 metapackage currently points at.
kernel_package() {
    apt-cache depends linux-image-amd64 2>/dev/null |
        awk '/Depends: linux-image-[0-9]/ && !k {k = $2} END {print k}'
}

fetch_debs() {
    [ -e "$RIG_DIR/debs/.complete" ] && return
    [ -n "$(candidate_of xen-hypervisor-4.17-amd64)" ] || apt_update_once
    local kpkg
    kpkg=$(kernel_package)
    [ -n "$kpkg" ] || die "cannot resolve Debian package linux-image-amd64 (bookworm main) to a kernel image package"
    say "first run: fetching Xen 4.17 and the Linux kernel for dom0 (kernel: $kpkg)"
    rm -rf "$RIG_DIR/debs.tmp"; mkdir -p "$RIG_DIR/debs.tmp"
    download_debs "$RIG_DIR/debs.tmp" "${XEN_PKGS[@]}" "$kpkg"
    touch "$RIG_DIR/debs.tmp/.complete"
    rm -rf "$RIG_DIR/debs"; mv "$RIG_DIR/debs.tmp" "$RIG_DIR/debs"
}

# Unpacks the Xen debs fully (small) and only vmlinuz + our modules from the kernel
# deb (a full unpack is 400 MB).
# (Again when MODULES changes: .complete records the list it was made with.)
extract_debs() {
    [ "$(cat "$RIG_DIR/root/.complete" 2>/dev/null)" = "${MODULES[*]}" ] && return
    say "unpacking debs…"
    local root=$RIG_DIR/root.tmp deb patterns=() m
    rm -rf "$root"; mkdir -p "$root"
    for deb in "$RIG_DIR"/debs/*.deb; do
        case $deb in */linux-image-*) ;; *) dpkg-deb -x "$deb" "$root" ;; esac
    done
    for m in "${MODULES[@]}"; do patterns+=("./lib/modules/*/kernel/$m.ko"); done
    dpkg-deb --fsys-tarfile "$RIG_DIR"/debs/linux-image-*.deb |
        tar -x -C "$root" --wildcards './boot/vmlinuz-*' "${patterns[@]}" ||
        die "could not unpack vmlinuz and modules from $(basename "$RIG_DIR"/debs/linux-image-*.deb)"
    ls "$root"/boot/vmlinuz-* "$root"/boot/xen-4.17-amd64.gz "$root/$XEN_BIN/xl" >/dev/null 2>&1 ||
        die "unpacked debs lack vmlinuz/xen-4.17-amd64.gz/xl (packages linux-image-*, xen-hypervisor-4.17-amd64, xen-utils-4.17)"
    echo "${MODULES[*]}" > "$root/.complete"
    rm -rf "$RIG_DIR/root"; mv "$root" "$RIG_DIR/root"
    rm -f "$RIG_DIR/xen.elf" "$RIG_DIR/vmlinux"
}

make_xen_elf() {
    [ -s "$RIG_DIR/xen.elf" ] && return
    say "gunzipping xen.elf"
    zcat "$RIG_DIR/root/boot/xen-4.17-amd64.gz" > "$RIG_DIR/xen.elf.tmp"
    mv "$RIG_DIR/xen.elf.tmp" "$RIG_DIR/xen.elf"
}

# The bzImage payload is one xz stream; Xen would otherwise decompress it itself.
make_vmlinux() {
    [ -s "$RIG_DIR/vmlinux" ] && return
    say "extracting vmlinux from the xz bzImage…"
    local vmlinuz off
    vmlinuz=$(echo "$RIG_DIR"/root/boot/vmlinuz-*)
    off=$(LC_ALL=C grep -aboP '\xfd7zXZ\x00' "$vmlinuz" | awk -F: 'NR == 1 {print $1}')
    [ -n "$off" ] || die "no xz payload in $vmlinuz"
    # process substitution, not a pipe: xz stops reading at the end of the stream
    # and a SIGPIPE'd tail would fail the pipeline under pipefail.
    xz -dc --single-stream < <(tail -c +$((off + 1)) "$vmlinuz") > "$RIG_DIR/vmlinux.tmp"
    [ "$(head -c 4 "$RIG_DIR/vmlinux.tmp" | od -An -c | tr -d ' ')" = '177ELF' ] ||
        die "decompressed $vmlinuz payload is not an ELF"
    mv "$RIG_DIR/vmlinux.tmp" "$RIG_DIR/vmlinux"
}

# Identifies the inputs of the base initramfs, so edits to dom0/ rebuild it.
base_version() {
    cat "$SRC/rig.sh" "$SRC"/dom0/* | sha256sum | cut -c1-16
    ls "$RIG_DIR"/debs/*.deb | xargs -n1 basename
}

# Copies the shared libraries the toolstack binaries need; the Xen ones come from
# the unpacked debs, glibc and friends from the (Debian 12) host.
copy_libs() {
    local stage=$1 root=$RIG_DIR/root lib dst
    LD_LIBRARY_PATH=$root/usr/lib/x86_64-linux-gnu ldd "$stage/$XEN_BIN"/* "$stage/usr/bin/xenstore" |
        awk '/=> \// {print $3} /^\t\/lib64\// {print $1}' | sort -u > "$stage/.libs"
    while read -r lib; do
        case $lib in "$root"/*) dst=${lib#"$root"} ;; *) dst=$lib ;; esac
        mkdir -p "$stage$(dirname "$dst")"; cp -L "$lib" "$stage$dst"
    done < "$stage/.libs"
    # what dom0 has, so the libvirt tree need not carry it (prepare_libvirt)
    sed 's|.*/||' "$stage/.libs" > "$RIG_DIR/dom0-base.libs"
    rm "$stage/.libs"
    grep -q 'not found' < <(LD_LIBRARY_PATH=$root/usr/lib/x86_64-linux-gnu ldd "$stage/$XEN_BIN/xl") &&
        die "xl has unresolved libraries (is the host Debian 12?)"
    # glibc dlopen()s libgcc_s for pthread_cancel (xl aborts without it); ldd cannot see that.
    [ -e /lib/x86_64-linux-gnu/libgcc_s.so.1 ] || die "libgcc_s.so.1 missing on the host (Debian package libgcc-s1)"
    cp -L /lib/x86_64-linux-gnu/libgcc_s.so.1 "$stage/lib/x86_64-linux-gnu/"
    echo libgcc_s.so.1 >> "$RIG_DIR/dom0-base.libs"
}

build_base_initramfs() {
    local out=$RIG_DIR/dom0-base.cpio.gz stamp=$RIG_DIR/dom0-base.version version
    version=$(base_version)
    [ -s "$out" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$version" ] && return
    say "building dom0-base.cpio.gz…"
    local root=$RIG_DIR/root stage kver m b
    stage=$(mktemp -d "$RIG_DIR/stage.XXXXXX")
    trap 'rm -rf "$stage"' EXIT
    kver=$(ls "$root/lib/modules")
    mkdir -p "$stage"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,run,tmp,scenarios,etc/xen/scripts} \
             "$stage"/var/{log/xen,lib/xen,lib/xenstored,lock} "$stage/$XEN_BIN" "$stage/lib64"
    ln -s ../run "$stage/var/run"
    cp /bin/busybox "$stage/bin/busybox"
    for b in xl xenstored xenconsoled xen-init-dom0 libxl-save-helper; do cp "$root/$XEN_BIN/$b" "$stage/$XEN_BIN/"; done
    cp "$root/usr/bin/xenstore" "$stage/usr/bin/"
    for b in ls read write list rm exists watch chmod; do ln -s xenstore "$stage/usr/bin/xenstore-$b"; done
    copy_libs "$stage"
    for m in "${MODULES[@]}"; do
        mkdir -p "$stage/lib/modules/$kver/kernel/$(dirname "$m")"
        cp "$root/lib/modules/$kver/kernel/$m.ko" "$stage/lib/modules/$kver/kernel/$m.ko"
    done
    install -m 755 "$SRC/dom0/init.sh" "$stage/init"
    install -m 755 "$SRC/dom0/vif-tsxen" "$SRC/dom0/block-tsxen" "$stage/etc/xen/scripts/"
    install -m 755 "$SRC/dom0/libvirt-start" "$stage/usr/sbin/"
    install -D -m 644 "$SRC/dom0/check-lib.sh" "$stage/etc/tsxen/check-lib.sh"
    # libxl's default hotplug script names, so cfgs need no script= for the common cases.
    ln -s vif-tsxen "$stage/etc/xen/scripts/vif-bridge"
    ln -s block-tsxen "$stage/etc/xen/scripts/block"
    cp "$SRC/dom0/xl.conf" "$stage/etc/xen/xl.conf"
    echo "root:x:0:0:root:/:/bin/sh" > "$stage/etc/passwd"
    (cd "$stage" && find . | LC_ALL=C sort | /bin/busybox cpio -o -H newc -R 0:0 2>/dev/null) |
        gzip -6 > "$out.tmp"
    mv "$out.tmp" "$out"
    echo "$version" > "$stamp"
    rm -rf "$stage"; trap - EXIT
    say "dom0-base.cpio.gz: $(stat -c %s "$out") bytes"
}

# The rig's CPU (QEMU's qemu64 under TCG, vendor AMD) lacks vme, and Xen hides sep
# on AMD, so no model in libvirt's CPU map fits the features Xen reports, and the
# libxl driver refuses to start ("x86Decode: Cannot find suitable CPU model for
# given data"). Real x86-64 hosts have both. One more model, with what the rig's
# Xen does report (`xl info` hw_caps), lets it start.
rig_cpu_model() {
    local map=$1 f
    {
        echo "<cpus>"
        echo "  <model name='tsxen-rig'>"
        echo "    <decode host='on' guest='off'/>"
        for f in apic clflush cmov cx16 cx8 de fpu fxsr lm mca mce mmx msr mtrr nx pae pat pge pni pse pse36 sse sse2 syscall tsc; do
            echo "    <feature name='$f'/>"
        done
        echo "  </model>"
        echo "</cpus>"
    } > "$map/x86_tsxen-rig.xml"
    sed -i "s|<include filename='x86_486.xml'/>|&\n    <include filename='x86_tsxen-rig.xml'/>|" "$map/index.xml"
    grep -q x86_tsxen-rig.xml "$map/index.xml" || die "could not add the rig's CPU model to libvirt's $map/index.xml"
}

# The libvirt tree: the LIBVIRT_PKGS debs unpacked (docs and the other hypervisors'
# drivers left out), checked with ldd: every library libvirtd, virsh and the libxl
# driver need must be in the tree, in the Xen debs or in dom0-base.
prepare_libvirt() {
    local dir=$RIG_DIR/libvirt debs=$RIG_DIR/libvirt-debs deb f lib missing=()
    [ "$(cat "$dir/.complete" 2>/dev/null)" = "${LIBVIRT_PKGS[*]}" ] && return
    if [ "$(cat "$debs/.complete" 2>/dev/null)" != "${LIBVIRT_PKGS[*]}" ]; then
        [ -n "$(candidate_of libvirt-daemon-driver-xen)" ] || apt_update_once
        say "fetching libvirt 9.0 and its libraries for dom0"
        rm -rf "$debs"; mkdir -p "$debs"
        download_debs "$debs" "${LIBVIRT_PKGS[@]}"
        echo "${LIBVIRT_PKGS[*]}" > "$debs/.complete"
    fi
    say "unpacking libvirt…"
    rm -rf "$dir.tmp"; mkdir -p "$dir.tmp"
    for deb in "$debs"/*.deb; do dpkg-deb -x "$deb" "$dir.tmp"; done
    rm -rf "$dir.tmp"/usr/share/{doc,man,locale,lintian,bash-completion,augeas,polkit-1}
    for f in "$dir.tmp"/usr/lib/x86_64-linux-gnu/libvirt/connection-driver/*.so; do
        case $f in */libvirt_driver_libxl.so) ;; *) rm "$f" ;; esac
    done
    rig_cpu_model "$dir.tmp/usr/share/libvirt/cpu_map"
    while read -r lib; do
        case $lib in
        "$dir.tmp"/*|"$RIG_DIR/root"/*) ;;
        # glibc's other libraries come from the host, as dom0-base's libc does
        */libm.so.6|*/libresolv.so.2|*/librt.so.1|*/libdl.so.2|*/libpthread.so.0)
            mkdir -p "$dir.tmp/lib/x86_64-linux-gnu"; cp -L "$lib" "$dir.tmp/lib/x86_64-linux-gnu/" ;;
        *) grep -qxF "${lib##*/}" "$RIG_DIR/dom0-base.libs" || missing+=("$lib") ;;
        esac
    done < <(LD_LIBRARY_PATH=$dir.tmp/usr/lib/x86_64-linux-gnu:$dir.tmp/lib/x86_64-linux-gnu:$RIG_DIR/root/usr/lib/x86_64-linux-gnu \
             ldd "$dir.tmp"/usr/sbin/libvirtd "$dir.tmp"/usr/bin/virsh \
                 "$dir.tmp"/usr/lib/x86_64-linux-gnu/libvirt/connection-driver/libvirt_driver_libxl.so |
             awk '/not found/ {print "not-found:" $1} /=> \// {print $3}' | sort -u)
    [ ${#missing[@]} -eq 0 ] || die "libvirt needs libraries LIBVIRT_PKGS (rig.sh) lacks: ${missing[*]}"
    echo "${LIBVIRT_PKGS[*]}" > "$dir.tmp/.complete"
    rm -rf "$dir"; mv "$dir.tmp" "$dir"
    say "libvirt tree: $(du -sm "$dir" | cut -f1) MB in $dir"
}

prepare() {
    mkdir -p "$RIG_DIR"
    [ "$(. /etc/os-release && echo "${VERSION_CODENAME:-}")" = bookworm ] ||
        say "warning: host is not Debian 12 (bookworm); dom0 uses the host's glibc"
    require_apt
    ensure_host_tools
    fetch_debs
    extract_debs
    make_xen_elf
    make_vmlinux
    build_base_initramfs
    [ "${1:-}" != libvirt ] || prepare_libvirt
    say "ready: $RIG_DIR"
}

case ${1:-} in
prepare) prepare "${2:-}" ;;
*) echo "usage: $0 prepare [libvirt]" >&2; exit 2 ;;
esac
