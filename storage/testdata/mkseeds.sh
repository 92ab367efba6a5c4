#!/bin/sh
# Regenerates the fuzz seeds in testdata/seeds from qemu-img. Only the
# leading bytes the parsers read are kept, so the seeds stay small; a fixed
# VHD is kept whole (its footer is at the end), at the smallest size.
set -eu
out=$(cd "$(dirname "$0")" && pwd)/seeds
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
q() { qemu-img create -q "$@"; }
q -f raw base.raw 1M
q -f qcow2 -o compat=0.10 -b base.raw -F raw v2.qcow2
q -f qcow2 -u -b ../dir/base.raw -F raw v3.qcow2 1M
q -f qcow2 -o data_file=data.raw,data_file_raw=on dq.qcow2 1M
q -f qcow2 -o extended_l2=on,cluster_size=128k,lazy_refcounts=on el2.qcow2 1G
q -f qcow -b base.raw -F raw q1.qcow
q -f qed -b base.raw -F raw t.qed
q -f qed -b v2.qcow2 -F qcow2 t2.qed
q -f vmdk b.vmdk 1M
q -f vmdk -b b.vmdk -F vmdk t.vmdk
q -f vmdk -o subformat=monolithicFlat flat.vmdk 1M
q -f vmdk -o subformat=streamOptimized so.vmdk 1M
q -f vpc v.vpc 1M
q -f vpc -o subformat=fixed vf.vpc 512
q -f vdi x.vdi 3M
mkdir -p "$out"
head -c 1024 v2.qcow2 >"$out/v2.qcow2"
head -c 1024 v3.qcow2 >"$out/v3.qcow2"
head -c 1024 dq.qcow2 >"$out/datafile.qcow2"
head -c 1024 el2.qcow2 >"$out/extl2.qcow2"
head -c 1024 q1.qcow >"$out/v1.qcow"
head -c 1024 t.qed >"$out/raw-backing.qed"
head -c 1024 t2.qed >"$out/probe-backing.qed"
head -c 11264 t.vmdk >"$out/backing.vmdk"
head -c 11264 so.vmdk >"$out/stream.vmdk"
cp flat.vmdk "$out/descriptor.vmdk"
cp v.vpc "$out/dynamic.vpc"
cp vf.vpc "$out/fixed.vpc"
head -c 1024 x.vdi >"$out/x.vdi"
