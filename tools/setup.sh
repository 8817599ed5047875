#!/bin/bash
# tools/setup.sh - installs what tsxen needs on Debian 12 (idempotent):
# the build toolchain (nasm, wabt's wasm2c, gcc, binutils), what the real-Xen
# test rig runs (QEMU, busybox; Xen and the dom0 kernel are downloaded as
# .debs by tools/rig/rig.sh, never installed), Xen's public headers for the
# golden ABI tests (libxen-dev), libc6-dev for the static dom0 test tools,
# and the npm dependencies.
set -euo pipefail
cd "$(dirname "$0")/.."
PACKAGES="nasm wabt gcc libc6-dev binutils make qemu-system-x86 busybox-static xz-utils libxen-dev"

missing=()
for p in $PACKAGES; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if ((${#missing[@]})); then
    echo "setup: installing Debian packages: ${missing[*]}"
    sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
command -v node >/dev/null || { echo "setup: Node.js 20 or later is required (apt-get install nodejs npm)" >&2; exit 1; }
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    echo "setup: npm ci"
    npm ci --no-audit --no-fund --loglevel=error
fi
