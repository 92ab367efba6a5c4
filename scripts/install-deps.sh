#!/usr/bin/env bash
# Installs the Debian packages govirt's tests and tools use, skipping those
# already present. Needs root (or sudo) only when something is missing.
set -eu
pkgs="libvirt-clients python3-libvirt libxml2-utils qemu-system-x86 qemu-utils lvm2 dnsmasq-base iptables iproute2 procps mount util-linux e2fsprogs ovmf swtpm swtpm-tools virtinst libguestfs-tools virt-manager xvfb xauth x11-apps passt ansible python3-lxml libsys-virt-perl libsasl2-modules"
missing=""
for p in $pkgs; do
  dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
done
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
# The dedicated system user confined guests' QEMU runs as (qemu.conf's
# user/group in govirtd's config: user = "govirt-qemu"), as Debian's
# libvirt-qemu; in the kvm group for /dev/kvm. Only as root: a session
# daemon runs QEMU as its own user anyway.
if [ "$(id -u)" -eq 0 ] && ! getent passwd govirt-qemu >/dev/null 2>&1 && command -v useradd >/dev/null; then
  useradd --system --user-group --no-create-home --home-dir /nonexistent \
    --shell /usr/sbin/nologin --comment "govirt QEMU" govirt-qemu
  getent group kvm >/dev/null 2>&1 && usermod -a -G kvm govirt-qemu
fi
if [ -n "$missing" ]; then
  echo "installing:$missing" >&2
  $SUDO apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
# swtpm runs as tss, as libvirt's default swtpm_user; swtpm_setup as tss
# signs the TPM's certificates with the local CA, whose files an earlier
# swtpm_setup run as root may have left to root.
if [ "$(id -u)" -eq 0 ] && getent passwd tss >/dev/null 2>&1 && [ -d /var/lib/swtpm-localca ]; then
  chown -R tss /var/lib/swtpm-localca
fi
