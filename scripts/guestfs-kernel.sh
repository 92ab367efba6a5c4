#!/usr/bin/env bash
# Unpacks the Debian kernel package (linux-image-amd64's dependency) into
# OUTDIR so that libguestfs's supermin can build its appliance on a host
# without a kernel in /boot (containers, CI). Installs nothing: the test
# points SUPERMIN_KERNEL, SUPERMIN_MODULES and SUPERMIN_KERNEL_VERSION at
# the result. Prints the kernel version on success.
#
#   scripts/guestfs-kernel.sh [OUTDIR]   (default ~/.cache/govirt/guestfs-kernel)
#
# Exit status 3: the package could not be fetched (the test skips).
set -eu
# supermin lstat()s /lib/modules even when SUPERMIN_MODULES points
# elsewhere; containers often lack it. An empty directory is enough.
[ -d /lib/modules ] || mkdir -p /lib/modules 2>/dev/null || true
OUT=${1:-${GOVIRT_GUESTFS_KERNEL_DIR:-$HOME/.cache/govirt/guestfs-kernel}}
mkdir -p "$OUT"
exec 9>"$OUT/.lock"
command -v flock >/dev/null && flock 9
if [ -s "$OUT/kernel-version" ]; then
	KVER=$(cat "$OUT/kernel-version")
	if [ -f "$OUT/boot/vmlinuz-$KVER" ] && [ -d "$OUT/lib/modules/$KVER" ]; then
		echo "$KVER"
		exit 0
	fi
fi
KPKG=$(apt-cache depends linux-image-amd64 2>/dev/null |
	awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ { print $2; exit }')
[ -n "$KPKG" ] || { echo "cannot resolve linux-image-amd64" >&2; exit 3; }
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
(cd "$WORK" && apt-get -q download "$KPKG") >&2 || { echo "apt-get download $KPKG failed" >&2; exit 3; }
rm -rf "$OUT/boot" "$OUT/lib"
dpkg-deb -x "$WORK"/*.deb "$OUT"
KVER=$(ls "$OUT/lib/modules" | head -n 1)
[ -f "$OUT/boot/vmlinuz-$KVER" ] || { echo "no vmlinuz in $KPKG" >&2; exit 1; }
# supermin reads modules.dep-less trees fine, but depmod makes module
# loading in the appliance reliable when the host has it.
if command -v depmod >/dev/null; then depmod -b "$OUT" "$KVER" 2>/dev/null || true; fi
echo "$KVER" >"$OUT/kernel-version"
echo "$KVER"
