#!/bin/sh
# build.sh [-f] [OUTDIR] -- build the govirt test guest (kernel + initramfs)
# from Debian packages only.
#
# Produces OUTDIR/vmlinuz and OUTDIR/initrd.img (newc cpio, gzip).  OUTDIR
# defaults to ${GOVIRT_TESTGUEST_DIR:-$HOME/.cache/govirt/testguest}.
# Nothing is installed on the host: the packages are fetched with
# `apt-get download` into a temporary directory and unpacked with
# `dpkg-deb -x`.  If both outputs exist and are newer than this script the
# build is skipped (-f, or GOVIRT_TESTGUEST_REBUILD=1, forces a rebuild).
#
# Environment:
#   GOVIRT_TESTGUEST_DIR         default OUTDIR
#   GOVIRT_TESTGUEST_KERNEL_PKG  kernel package to use (default: whatever
#                                linux-image-amd64 depends on)
#   GOVIRT_TESTGUEST_REBUILD=1   same as -f
#
# Exit status: 0 ok, 2 usage, 3 packages could not be fetched (callers such
# as the Go helper turn this into a test skip), anything else: build error.
# See README.md for what the guest does.
set -eu

FORCE=${GOVIRT_TESTGUEST_REBUILD:-0}
case "${1:-}" in
-f|--force) FORCE=1; shift ;;
-h|--help) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
-*) echo "usage: $0 [-f] [OUTDIR]" >&2; exit 2 ;;
esac
[ $# -le 1 ] || { echo "usage: $0 [-f] [OUTDIR]" >&2; exit 2; }

OUT=${1:-${GOVIRT_TESTGUEST_DIR:-${HOME:-/tmp}/.cache/govirt/testguest}}
SCRIPT=$0
log() { echo "testguest: $*" >&2; }
die() { code=$1; shift; log "error: $*"; exit "$code"; }

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

uptodate() {
	[ "$FORCE" != 1 ] &&
		[ -s "$OUT/vmlinuz" ] && [ -s "$OUT/initrd.img" ] &&
		[ "$OUT/vmlinuz" -nt "$SCRIPT" ] && [ "$OUT/initrd.img" -nt "$SCRIPT" ]
}
if uptodate; then
	log "up to date: $OUT"
	exit 0
fi

# Serialise concurrent builds into the same OUTDIR (e.g. several test
# binaries started by `go test ./...`); re-check after getting the lock.
if command -v flock >/dev/null 2>&1; then
	exec 9>"$OUT/.lock"
	flock 9
	if uptodate; then
		log "up to date: $OUT"
		exit 0
	fi
fi

for tool in apt-get apt-cache dpkg-deb gzip; do
	command -v "$tool" >/dev/null 2>&1 || die 3 "$tool not found (a Debian host is required)"
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/govirt-testguest.XXXXXX")
trap 'rm -rf "$WORK"' EXIT INT TERM
mkdir "$WORK/debs"

APT_OPTS=""
# As root apt-get download drops privileges to _apt, which cannot write into
# our private temp dir; it then warns and carries on unsandboxed. Say so
# up front to keep the log quiet.
[ "$(id -u)" = 0 ] && APT_OPTS="-o APT::Sandbox::User=root"

apt_update() {
	if [ "$(id -u)" = 0 ]; then
		apt-get -q update >&2
	elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
		sudo -n apt-get -q update >&2
	else
		return 1
	fi
}

resolve_kernel() {
	if [ -n "${GOVIRT_TESTGUEST_KERNEL_PKG:-}" ]; then
		echo "$GOVIRT_TESTGUEST_KERNEL_PKG"
		return 0
	fi
	apt-cache depends linux-image-amd64 2>/dev/null |
		awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ { print $2; exit }'
}

download() {
	# shellcheck disable=SC2086
	(cd "$WORK/debs" && apt-get -q $APT_OPTS download "$@") >&2
}

KPKG=$(resolve_kernel || true)
if [ -z "$KPKG" ] || ! download "$KPKG" busybox-static qemu-guest-agent; then
	log "download failed; refreshing package lists (apt-get update)"
	apt_update || log "apt-get update failed or not permitted"
	KPKG=$(resolve_kernel || true)
	[ -n "$KPKG" ] || die 3 "cannot resolve linux-image-amd64 to a kernel package"
	download "$KPKG" busybox-static qemu-guest-agent || die 3 "apt-get download $KPKG busybox-static qemu-guest-agent failed"
fi
log "using $KPKG, busybox-static and qemu-guest-agent"

K=$WORK/kernel
B=$WORK/busybox
Q=$WORK/qga
mkdir "$K" "$B" "$Q"
for deb in "$WORK"/debs/*.deb; do
	case "$(basename "$deb")" in
	busybox-static_*) dpkg-deb -x "$deb" "$B" ;;
	qemu-guest-agent_*) dpkg-deb -x "$deb" "$Q" ;;
	*) dpkg-deb -x "$deb" "$K" ;;
	esac
done
BB=$B/bin/busybox
[ -x "$BB" ] || die 1 "busybox-static did not contain bin/busybox"

KVER=$(ls "$K/lib/modules" | head -n 1)
[ -n "$KVER" ] || die 1 "no /lib/modules in $KPKG"
VMLINUZ=$K/boot/vmlinuz-$KVER
[ -f "$VMLINUZ" ] || die 1 "no $VMLINUZ in $KPKG"
KMOD=$K/lib/modules/$KVER

# Debian generates modules.dep in the package's postinst; do it here with
# busybox's depmod instead (the modules are not compressed in bookworm).
log "computing module dependencies for $KVER"
"$BB" depmod -b "$K" "$KVER"

# Modules the guest needs (dependencies are added automatically):
#   virtio_pci virtio_blk virtio_net virtio_console virtio_scsi virtio_balloon
#             -- virtio devices (disks, NICs, serial ports, SCSI disks/CD-ROMs)
#   button evdev -- ACPI power button as an input device for acpid
#   pvpanic_mmio pvpanic_pci -- pvpanic ISA (ACPI QEMU0001) and PCI devices
#   ahci ata_piix sd_mod sr_mod -- SATA (q35) / IDE (pc) disks and CD-ROMs
#   crc32c_generic ext4 -- a file system to mount from a disk (busybox
#             mke2fs makes ext2, which ext4 mounts; ext4 needs crc32c), so
#             the guest agent has one to report
MODULES="virtio_pci virtio_blk virtio_net virtio_console virtio_scsi virtio_balloon
button evdev pvpanic_mmio pvpanic_pci ahci ata_piix sd_mod sr_mod crc32c_generic ext4"

ROOT=$WORK/root
mkdir -p "$ROOT/lib/modules/$KVER"
LOAD=""
for m in $MODULES; do
	# module file names may use '-' where the module name has '_'
	line=$(awk -v m="$m" -F: '{
		n = $1; sub(/.*\//, "", n); sub(/\.ko(\.[a-z]+)?$/, "", n); gsub(/-/, "_", n)
		if (n == m) { print; exit }
	}' "$KMOD/modules.dep")
	if [ -z "$line" ]; then
		if grep -q "/${m}\.ko\$" "$KMOD/modules.builtin" 2>/dev/null ||
			grep -q "/$(echo "$m" | tr _ -)\.ko\$" "$KMOD/modules.builtin" 2>/dev/null; then
			log "$m is built in"
			continue
		fi
		die 1 "module $m not found in $KPKG"
	fi
	for f in $(echo "$line" | tr -d :); do
		mkdir -p "$ROOT/lib/modules/$KVER/$(dirname "$f")"
		cp "$KMOD/$f" "$ROOT/lib/modules/$KVER/$f"
	done
	LOAD="$LOAD $m"
done
cp "$KMOD/modules.builtin" "$ROOT/lib/modules/$KVER/" 2>/dev/null || true
"$BB" depmod -b "$ROOT" "$KVER"

# busybox + applet links
mkdir -p "$ROOT/bin" "$ROOT/sbin" "$ROOT/usr/bin" "$ROOT/usr/sbin" "$ROOT/etc/acpi/PWRF" \
	"$ROOT/proc" "$ROOT/sys" "$ROOT/dev" "$ROOT/tmp" "$ROOT/run" "$ROOT/root" "$ROOT/mnt"
cp "$BB" "$ROOT/bin/busybox"
for app in $("$BB" --list-full); do
	{ [ -e "$ROOT/$app" ] || [ -L "$ROOT/$app" ]; } && continue
	case "$app" in
	bin/*) t=busybox ;;
	sbin/*) t=../bin/busybox ;;
	usr/*/*) t=../../bin/busybox ;;
	*) continue ;;
	esac
	ln -s "$t" "$ROOT/$app"
done
ln -s bin/busybox "$ROOT/init"

# The QEMU guest agent: Debian's dynamically linked qemu-ga with the
# shared libraries and loader ldd finds for it on this (Debian) host, at
# the same paths. busybox stays static; only qemu-ga uses them.
QGA=$Q/usr/sbin/qemu-ga
[ -x "$QGA" ] || die 1 "qemu-guest-agent did not contain usr/sbin/qemu-ga"
command -v ldd >/dev/null 2>&1 || die 1 "ldd not found (needed to copy qemu-ga's libraries)"
if ldd "$QGA" | grep -q "not found"; then
	die 1 "qemu-ga needs libraries this host lacks: $(ldd "$QGA" | grep "not found" | tr -d '\t' | tr '\n' ' ')"
fi
cp "$QGA" "$ROOT/usr/sbin/qemu-ga"
for lib in $(ldd "$QGA" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }'); do
	mkdir -p "$ROOT$(dirname "$lib")"
	cp -L "$lib" "$ROOT$lib"
done
mkdir -p "$ROOT/var"
ln -s ../run "$ROOT/var/run"
ln -s ../tmp "$ROOT/var/log"
echo "$KVER" >"$ROOT/etc/govirt-kernel"
echo "$LOAD" | tr ' ' '\n' | sed '/^$/d' >"$ROOT/etc/govirt-modules"
echo "govirt-guest" >"$ROOT/etc/hostname"
echo "root::0:0:root:/root:/bin/sh" >"$ROOT/etc/passwd"
echo "root:x:0:" >"$ROOT/etc/group"
cat >"$ROOT/etc/os-release" <<'EOF'
NAME="govirt test guest"
ID=govirt-testguest
PRETTY_NAME="govirt test guest 1"
VERSION="1"
VERSION_ID="1"
EOF

cat >"$ROOT/etc/inittab" <<'EOF'
::sysinit:/etc/rc
::respawn:/bin/cttyhack /bin/gv-shell
::ctrlaltdel:/bin/busybox reboot -f
::shutdown:/bin/busybox sync
EOF

cat >"$ROOT/etc/rc" <<'EOF'
#!/bin/sh
# govirt test guest: system initialisation (run by busybox init as sysinit)
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /tmp
echo 1 >/proc/sys/kernel/sysrq
echo /sbin/modprobe >/proc/sys/kernel/modprobe
hostname -F /etc/hostname
for m in $(cat /etc/govirt-modules); do
	modprobe "$m" 2>/dev/null
done
ip link set lo up 2>/dev/null
gv-udevdb >/dev/null
# ACPI power button -> /etc/acpi/PWRF/00000080 (poweroff)
acpid -c /etc/acpi -l /dev/null
# The QEMU guest agent, when the host gave the guest its channel (and
# the kernel command line does not say gv.noagent): the port appears
# once the host answers the driver's ready message, which can be after
# modprobe returns, so look for it for up to 5 s.
grep -qw gv.noagent /proc/cmdline || (
	n=0
	while [ $n -lt 50 ]; do
		[ -n "$(ls /sys/class/virtio-ports 2>/dev/null)" ] && gv-agent start >/dev/null && break
		sleep 0.1
		n=$((n + 1))
	done
) &
exit 0
EOF

cat >"$ROOT/etc/acpi/PWRF/00000080" <<'EOF'
#!/bin/sh
# ACPI power button (QEMU system_powerdown / virsh shutdown --mode acpi)
echo "GOVIRT-GUEST-POWEROFF" >/dev/console
sync
exec poweroff -f
EOF

cat >"$ROOT/etc/profile" <<'EOF'
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
export PS1='govirt-guest# '
export HOME=/root
cd /root
EOF

cat >"$ROOT/bin/gv-shell" <<'EOF'
#!/bin/sh
# The console shell; prints the readiness marker each time it starts.
echo "GOVIRT-GUEST-READY kernel=$(uname -r)"
exec /bin/sh -l
EOF

cat >"$ROOT/bin/gv-agent" <<'EOF'
#!/bin/sh
# gv-agent start|stop|pause|cont|status: the QEMU guest agent on the
# virtio port named org.qemu.guest_agent.0. Without udev nothing makes
# /dev/virtio-ports/NAME, so start creates those links from sysfs first.
# Prints "GV-AGENT <what> <pid>" (pid 0 when there is none).
pidf=/run/qemu-ga.pid
port=/dev/virtio-ports/org.qemu.guest_agent.0
pid() { p=$(cat $pidf 2>/dev/null); if [ -n "$p" ] && kill -0 "$p" 2>/dev/null; then echo "$p"; else echo 0; fi; }
case "${1:-status}" in
start)
	mkdir -p /dev/virtio-ports
	for d in /sys/class/virtio-ports/*; do
		[ -r "$d/name" ] || continue
		n=$(cat "$d/name")
		[ -n "$n" ] && ln -sf "../$(basename "$d")" "/dev/virtio-ports/$n"
	done
	if [ ! -e "$port" ]; then echo "GV-AGENT noport 0"; exit 1; fi
	if [ "$(pid)" = 0 ]; then
		mkdir -p /run/qemu-ga
		qemu-ga -m virtio-serial -p "$port" -f "$pidf" -t /run/qemu-ga -d
		n=0
		while [ "$(pid)" = 0 ] && [ $n -lt 50 ]; do sleep 0.1; n=$((n + 1)); done
	fi
	echo "GV-AGENT started $(pid)" ;;
stop)
	p=$(pid)
	[ "$p" = 0 ] || { kill -CONT "$p"; kill "$p"; }
	n=0
	while [ "$p" != 0 ] && kill -0 "$p" 2>/dev/null && [ $n -lt 50 ]; do sleep 0.1; n=$((n + 1)); done
	echo "GV-AGENT stopped $p" ;;
pause) p=$(pid); [ "$p" = 0 ] || kill -STOP "$p"; echo "GV-AGENT paused $p" ;;
cont) p=$(pid); [ "$p" = 0 ] || kill -CONT "$p"; echo "GV-AGENT continued $p" ;;
status) echo "GV-AGENT status $(pid)" ;;
*) echo "GV-ERROR usage: gv-agent start|stop|pause|cont|status"; exit 2 ;;
esac
EOF

cat >"$ROOT/bin/gv-mount" <<'EOF'
#!/bin/sh
# gv-mount DEV DIR: make an ext2 file system on DEV (erasing it), mount it
# on DIR with the ext4 driver and print "GV-MOUNT DEV DIR ok".
dev=$1; dir=$2
[ -b "$dev" ] && [ -n "$dir" ] || { echo "GV-MOUNT $dev $dir failed (usage: gv-mount DEV DIR)"; exit 1; }
mke2fs -q "$dev" >/dev/null 2>&1 && mkdir -p "$dir" && mount -t ext4 "$dev" "$dir" ||
	{ echo "GV-MOUNT $dev $dir failed"; exit 1; }
echo "GV-MOUNT $dev $dir ok"
EOF

cat >"$ROOT/bin/gv-reboot" <<'EOF'
#!/bin/sh
# Reboot immediately (QEMU emits RESET; with -no-reboot it emits SHUTDOWN).
echo "GOVIRT-GUEST-REBOOT"
sync
exec reboot -f
EOF

cat >"$ROOT/bin/gv-poweroff" <<'EOF'
#!/bin/sh
# Power off immediately (QEMU emits SHUTDOWN with guest=true).
echo "GOVIRT-GUEST-POWEROFF"
sync
exec poweroff -f
EOF

cat >"$ROOT/bin/gv-panic" <<'EOF'
#!/bin/sh
# Crash the kernel; with a pvpanic device QEMU emits GUEST_PANICKED.
echo "GOVIRT-GUEST-PANIC"
sync
echo 1 >/proc/sys/kernel/sysrq
echo c >/proc/sysrq-trigger
EOF

cat >"$ROOT/bin/gv-write" <<'EOF'
#!/bin/sh
# gv-write DEV [SEED] [KIB]: write KIB KiB (default 1024) of a recognisable
# pattern ("GOVIRT-PATTERN-<SEED>-" repeated, SEED default 1) at offset 0 of
# DEV, flush it and print "GV-WRITE DEV MD5" (MD5 of the written region).
set -e
dev=$1; seed=${2:-1}; kib=${3:-1024}
[ -b "$dev" ] || [ -f "$dev" ] || { echo "GV-ERROR no such device: $dev"; exit 1; }
bytes=$((kib * 1024))
yes "GOVIRT-PATTERN-$seed-" | head -c "$bytes" >/tmp/gv-pattern
dd if=/tmp/gv-pattern of="$dev" bs=64k conv=notrunc,fsync 2>/dev/null
sync
blockdev --flushbufs "$dev" 2>/dev/null || true
sum=$(md5sum </tmp/gv-pattern | cut -d' ' -f1)
rm -f /tmp/gv-pattern
echo "GV-WRITE $dev $sum"
EOF

cat >"$ROOT/bin/gv-sum" <<'EOF'
#!/bin/sh
# gv-sum DEV [KIB|all]: drop caches, then print "GV-SUM DEV MD5" of the first
# KIB KiB (default 1024, same as gv-write) or of the whole device ("all").
set -e
dev=$1; kib=${2:-1024}
[ -b "$dev" ] || [ -f "$dev" ] || { echo "GV-ERROR no such device: $dev"; exit 1; }
sync
blockdev --flushbufs "$dev" 2>/dev/null || true
echo 3 >/proc/sys/vm/drop_caches
if [ "$kib" = all ]; then
	sum=$(md5sum <"$dev" | cut -d' ' -f1)
else
	sum=$(head -c $((kib * 1024)) "$dev" | md5sum | cut -d' ' -f1)
fi
echo "GV-SUM $dev $sum"
EOF

cat >"$ROOT/bin/gv-eject" <<'EOF'
#!/bin/sh
# gv-eject [DEV]: open the CD-ROM tray (default /dev/sr0); QEMU emits
# DEVICE_TRAY_MOVED. busybox-static has no eject applet, so this uses the
# cdrom driver's autoeject: the tray opens when the last opener closes the
# device. Needs a medium in the drive (opening an empty drive fails).
dev=${1:-/dev/sr0}
auto=/proc/sys/dev/cdrom/autoeject
if [ ! -b "$dev" ] || [ ! -w "$auto" ]; then
	echo "GV-EJECT $dev failed (no such CD-ROM)"
	exit 1
fi
echo 1 >"$auto"
dd if="$dev" of=/dev/null bs=2048 count=1 2>/dev/null
rc=$?
echo 0 >"$auto"
if [ $rc = 0 ]; then echo "GV-EJECT $dev ok"; else echo "GV-EJECT $dev failed (no medium?)"; exit 1; fi
EOF

# udhcpc's default script (Debian's busybox runs /etc/udhcpc/default.script
# on each DHCP event): put the leased address, its routes and DNS servers
# on the interface, as Debian's script does, so the guest agent reports
# the address.
mkdir -p "$ROOT/etc/udhcpc"
cat >"$ROOT/etc/udhcpc/default.script" <<'EOF'
#!/bin/sh
# udhcpc event script: $1 is deconfig|bound|renew|leasefail|nak
case "$1" in
deconfig)
	ip -4 addr flush dev "$interface"
	ip link set "$interface" up ;;
bound|renew)
	ip -4 addr flush dev "$interface"
	ip addr add "$ip/${mask:-24}" ${broadcast:+broadcast "$broadcast"} dev "$interface"
	for r in $router; do ip route replace default via "$r" dev "$interface"; break; done
	: >/etc/resolv.conf
	for s in $dns; do echo "nameserver $s" >>/etc/resolv.conf; done ;;
esac
exit 0
EOF

cat >"$ROOT/bin/gv-dhcp" <<'EOF'
#!/bin/sh
# gv-dhcp [IFACE]: bring IFACE (default eth0) up, ask for a DHCP lease
# (udhcpc, up to 10 tries) and put it on the interface; prints
# "GV-DHCP IFACE ADDR/PREFIX" or "GV-DHCP IFACE failed".
i=${1:-eth0}
ip link set "$i" up 2>/dev/null || { echo "GV-DHCP $i failed"; exit 1; }
udhcpc -i "$i" -n -q -t 10 -T 2 -s /etc/udhcpc/default.script >/dev/null 2>&1
a=$(ip -4 -o addr show dev "$i" | awk '{ print $4; exit }')
if [ -n "$a" ]; then echo "GV-DHCP $i $a"; else echo "GV-DHCP $i failed"; exit 1; fi
EOF

# qemu-ga's guest-set-user-password runs chpasswd (busybox-static has
# none): this one reads "user:password" as the real one does, hashes the
# password unless -e says it already is, and writes /etc/shadow.
rm -f "$ROOT/usr/sbin/chpasswd" "$ROOT/sbin/chpasswd" "$ROOT/bin/chpasswd"
cat >"$ROOT/usr/sbin/chpasswd" <<'EOF'
#!/bin/sh
# chpasswd [-e]: "user:password" lines on stdin into /etc/shadow
while IFS= read -r l; do
	u=${l%%:*}; p=${l#*:}
	[ "$1" = -e ] || p=$(mkpasswd -m md5 "$p")
	grep -q "^$u:" /etc/shadow || { echo "chpasswd: unknown user $u" >&2; exit 1; }
	sed -i "s|^$u:[^:]*:|$u:$p:|" /etc/shadow
done
EOF
echo 'root:!:19000:0:99999:7:::' >"$ROOT/etc/shadow"

# qemu-ga's guest-shutdown runs /sbin/shutdown -h|-P|-r +0 MESSAGE
# (busybox has no shutdown): power off or reboot at once, after a sync.
rm -f "$ROOT/sbin/shutdown"
cat >"$ROOT/sbin/shutdown" <<'EOF'
#!/bin/sh
# shutdown -h|-P|-r [TIME] [MESSAGE]: as qemu-ga calls it
sync
case " $* " in
*" -r "*) echo "GOVIRT-GUEST-REBOOT" >/dev/console; exec reboot -f ;;
*) echo "GOVIRT-GUEST-POWEROFF" >/dev/console; exec poweroff -f ;;
esac
EOF

cat >"$ROOT/bin/gv-login" <<'EOF'
#!/bin/sh
# gv-login USER [LINE]: record a login of USER on LINE (default pts/0) in
# /var/run/utmp, as login(1) would (a USER_PROCESS entry with the current
# time), so the guest agent's guest-get-users reports the user. Prints
# "GV-LOGIN USER TIME". glibc's x86-64 struct utmp: type and pid (4 bytes
# each), line[32], id[4], user[32], host[256], exit (4), session (4),
# tv_sec and tv_usec (4 each), addr_v6[16], unused[20]: 384 bytes.
u=$1; line=${2:-pts/0}
[ -n "$u" ] || { echo "GV-ERROR usage: gv-login USER [LINE]"; exit 2; }
le32() { printf "$(printf '\\%03o\\%03o\\%03o\\%03o' $(($1 & 255)) $((($1 >> 8) & 255)) $((($1 >> 16) & 255)) $((($1 >> 24) & 255)))"; }
field() { printf '%s' "$1" | head -c "$2"; n=$(($2 - ${#1})); [ $n -gt 0 ] && head -c $n /dev/zero; true; }
now=$(date +%s)
{
	le32 7; le32 $$
	field "$line" 32; field "${line#pts/}" 4; field "$u" 32; field "" 256
	le32 0; le32 0; le32 "$now"; le32 0
	head -c 36 /dev/zero
} >>/var/run/utmp
echo "GV-LOGIN $u $now"
EOF

# Block devices have no udev database (no udevd): qemu-ga reads a disk's
# serial from udev's ID_SERIAL, so the records udev would write for
# virtio disks with a serial are made at boot (/run/udev/data/bMAJ:MIN).
cat >"$ROOT/bin/gv-udevdb" <<'EOF'
#!/bin/sh
# gv-udevdb: write /run/udev/data/bMAJ:MIN with ID_SERIAL for each block
# device whose sysfs has a serial (virtio-blk <serial>).
mkdir -p /run/udev/data
for d in /sys/block/*; do
	[ -r "$d/serial" ] && [ -r "$d/dev" ] || continue
	s=$(cat "$d/serial" 2>/dev/null)
	[ -n "$s" ] || continue
	printf 'E:ID_SERIAL=%s\nE:ID_SERIAL_SHORT=%s\n' "$s" "$s" >"/run/udev/data/b$(cat "$d/dev")"
done
echo "GV-UDEVDB ok"
EOF

chmod 755 "$ROOT/etc/rc" "$ROOT/etc/acpi/PWRF/00000080" "$ROOT"/bin/gv-* "$ROOT/usr/sbin/chpasswd" "$ROOT/sbin/shutdown" "$ROOT/etc/udhcpc/default.script"

# Pack. Prefer GNU cpio (can force root ownership); busybox cpio otherwise.
log "packing initramfs"
if command -v cpio >/dev/null 2>&1; then
	CPIO="cpio --quiet -o -H newc -R 0:0"
else
	CPIO="$BB cpio -o -H newc"
fi
(cd "$ROOT" && find . | LC_ALL=C sort | $CPIO) | gzip -9n >"$OUT/.initrd.img.tmp"
cp "$VMLINUZ" "$OUT/.vmlinuz.tmp"
mv -f "$OUT/.vmlinuz.tmp" "$OUT/vmlinuz"
mv -f "$OUT/.initrd.img.tmp" "$OUT/initrd.img"
echo "$KVER" >"$OUT/kernel-version"
log "built $OUT/vmlinuz ($KVER) and $OUT/initrd.img ($(wc -c <"$OUT/initrd.img") bytes)"
