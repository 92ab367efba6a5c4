#!/usr/bin/env bash
# Prints the virsh command coverage report: every command of `virsh help`
# run on the test and QEMU drivers of libvirtd 9.0 and of govirtd
# (integration/virsh_coverage_test.go, table in
# integration/testdata/virsh-coverage.txt). Needs a libvirtd on
# LIBVIRTD_SOCKET (default /var/run/libvirt/libvirt-sock) and root for the
# QEMU driver. DRIVERS=test limits the run to the test driver (two
# minutes instead of ten). Exits like the test: non-zero when a command
# works on libvirtd, fails on govirtd and is not a listed exception.
set -uo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp)
log=$(mktemp)
trap 'rm -f "$out" "$log"' EXIT
GOVIRT_COVERAGE=1 go test -count=1 -timeout 40m -run 'TestVirshCoverage$' ./integration/ -args \
  -coverage-out="$out" -coverage-drivers="${DRIVERS:-test,qemu}" \
  -libvirtd-socket="${LIBVIRTD_SOCKET:-/var/run/libvirt/libvirt-sock}" >"$log" 2>&1
rc=$?
if [ -s "$out" ]; then
  cat "$out"
else
  cat "$log"
fi
grep -E '^\s+virsh_coverage_test.go:[0-9]+: works on libvirtd' "$log" || true
exit $rc
