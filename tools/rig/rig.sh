#!/usr/bin/env bash
# tools/rig/rig.sh prepare
#
# Prepares the cached inputs of the real-Xen test rig (Xen 4.17 + Debian 6.1
# Linux dom0 booted in QEMU/TCG, see harness.ts):
#   xen.elf            Debian's Xen hypervisor, gunzipped (QEMU cannot multiboot the .gz)
#   vmlinux            Debian's dom0 kernel as a plain ELF (saves seconds of xz inside Xen)
#   dom0-base.cpio.gz  dom0 initramfs: busybox, toolstack + libs, modules, dom0/ scripts
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
         net/bridge/bridge)

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
    local kpkg pkg
    kpkg=$(kernel_package)
    [ -n "$kpkg" ] || die "cannot resolve Debian package linux-image-amd64 (bookworm main) to a kernel image package"
    for pkg in "${XEN_PKGS[@]}" "$kpkg"; do
        [ -n "$(candidate_of "$pkg")" ] && [ "$(candidate_of "$pkg")" != "(none)" ] ||
            die "Debian package $pkg has no installation candidate (needs Debian 12 bookworm main in apt sources)"
    done
    say "downloading Xen 4.17 and Linux debs (≈72 MB, kernel: $kpkg)…"
    rm -rf "$RIG_DIR/debs.tmp"; mkdir -p "$RIG_DIR/debs.tmp"
    # As root, apt would try to download as _apt, which cannot write into $HOME.
    local sandbox=()
    [ "$(id -u)" -ne 0 ] || sandbox=(-o APT::Sandbox::User=root)
    (cd "$RIG_DIR/debs.tmp" && apt-get download -qq "${sandbox[@]}" "${XEN_PKGS[@]}" "$kpkg") ||
        die "apt-get download failed for: ${XEN_PKGS[*]} $kpkg"
    touch "$RIG_DIR/debs.tmp/.complete"
    rm -rf "$RIG_DIR/debs"; mv "$RIG_DIR/debs.tmp" "$RIG_DIR/debs"
}

# Unpacks the Xen debs fully (small) and only vmlinuz + our modules from the kernel
# deb (a full unpack is 400 MB).
extract_debs() {
    [ -e "$RIG_DIR/root/.complete" ] && return
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
    touch "$root/.complete"
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
    rm "$stage/.libs"
    grep -q 'not found' < <(LD_LIBRARY_PATH=$root/usr/lib/x86_64-linux-gnu ldd "$stage/$XEN_BIN/xl") &&
        die "xl has unresolved libraries (is the host Debian 12?)"
    # glibc dlopen()s libgcc_s for pthread_cancel (xl aborts without it); ldd cannot see that.
    [ -e /lib/x86_64-linux-gnu/libgcc_s.so.1 ] || die "libgcc_s.so.1 missing on the host (Debian package libgcc-s1)"
    cp -L /lib/x86_64-linux-gnu/libgcc_s.so.1 "$stage/lib/x86_64-linux-gnu/"
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
    for b in xl xenstored xenconsoled xen-init-dom0; do cp "$root/$XEN_BIN/$b" "$stage/$XEN_BIN/"; done
    cp "$root/usr/bin/xenstore" "$stage/usr/bin/"
    for b in ls read write list rm exists watch chmod; do ln -s xenstore "$stage/usr/bin/xenstore-$b"; done
    copy_libs "$stage"
    for m in "${MODULES[@]}"; do
        mkdir -p "$stage/lib/modules/$kver/kernel/$(dirname "$m")"
        cp "$root/lib/modules/$kver/kernel/$m.ko" "$stage/lib/modules/$kver/kernel/$m.ko"
    done
    install -m 755 "$SRC/dom0/init.sh" "$stage/init"
    install -m 755 "$SRC/dom0/vif-tsxen" "$SRC/dom0/block-tsxen" "$stage/etc/xen/scripts/"
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

prepare() {
    mkdir -p "$RIG_DIR"
    [ "$(. /etc/os-release && echo "${VERSION_CODENAME:-}")" = bookworm ] ||
        say "warning: host is not Debian 12 (bookworm); dom0 uses the host's glibc"
    ensure_host_tools
    fetch_debs
    extract_debs
    make_xen_elf
    make_vmlinux
    build_base_initramfs
    say "ready: $RIG_DIR"
}

case ${1:-} in
prepare) prepare ;;
*) echo "usage: $0 prepare" >&2; exit 2 ;;
esac
