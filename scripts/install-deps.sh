#!/usr/bin/env bash
# Installs the Debian packages govirt's tests and tools use, skipping those
# already present. Needs root (or sudo) only when something is missing.
set -eu
pkgs="libvirt-clients python3-libvirt libxml2-utils qemu-system-x86 qemu-utils lvm2 dnsmasq-base iptables iproute2 procps mount util-linux e2fsprogs ovmf swtpm swtpm-tools virtinst libguestfs-tools virt-manager xvfb xauth x11-apps passt ansible python3-lxml libsys-virt-perl"
missing=""
for p in $pkgs; do
  dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "installing:$missing" >&2
$SUDO apt-get update -qq >/dev/null
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
