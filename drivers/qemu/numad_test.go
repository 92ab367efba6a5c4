package qemu

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"govirt/conf"
	"govirt/drivers/qemu/command"
	"govirt/virerr"
)

func numadDef(t *testing.T, part string) *conf.Domain {
	t.Helper()
	def, err := conf.ParseDomain([]byte("<domain type='qemu'><name>n</name><memory>100000</memory>"+part+"<os><type>hvm</type></os></domain>"), 0)
	if err != nil {
		t.Fatal(err)
	}
	return def
}

// Two host nodes with CPUs, one of them without memory, and a CPU-less
// memory node: autoCpuset is every CPU of the advised nodes, autoNodeset
// those of them with memory; a node the host lacks adds nothing.
func TestPlacementFromNodes(t *testing.T) {
	cells := []conf.CapsCell{
		{ID: 0, MemoryKiB: 1024, CPUs: []conf.CapsCPU{{ID: 0}, {ID: 1}}},
		{ID: 1, MemoryKiB: 0, CPUs: []conf.CapsCPU{{ID: 3}, {ID: 2}}},
		{ID: 2, MemoryKiB: 2048},
	}
	for _, c := range []struct {
		nodes        []int
		cpus, nodes2 []int
	}{
		{[]int{0}, []int{0, 1}, []int{0}},
		{[]int{1}, []int{2, 3}, []int{}},
		{[]int{0, 1, 2}, []int{0, 1, 2, 3}, []int{0, 2}},
		{[]int{2, 7}, []int{}, []int{2}},
	} {
		p, err := placementFromNodes(c.nodes, cells)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(p.cpus, c.cpus) || !reflect.DeepEqual(p.nodes, c.nodes2) {
			t.Errorf("%v: cpus %v nodes %v, want %v %v", c.nodes, p.cpus, p.nodes, c.cpus, c.nodes2)
		}
	}
}

func TestPrepareNUMAPlacement(t *testing.T) {
	dir := t.TempDir()
	script := func(body string) {
		p := filepath.Join(dir, "numad")
		os.Remove(p)
		if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
			t.Fatal(err)
		}
		t.Setenv("GOVIRT_NUMAD", p)
	}
	// Nothing automatic: numad is not asked.
	script("exit 1\n")
	if ap, err := prepareNUMAPlacement(numadDef(t, "<vcpu>1</vcpu>")); ap != nil || err != nil {
		t.Fatalf("static guest: %v %v", ap, err)
	}
	auto := numadDef(t, "<vcpu placement='auto' current='2'>4</vcpu>")
	if _, err := prepareNUMAPlacement(auto); err == nil || err.Error() != "operation failed: Failed to query numad for the advisory nodeset" {
		t.Errorf("failing numad: %v", err)
	}
	script("printf 'a-'\n")
	_, err := prepareNUMAPlacement(auto)
	if ve, ok := err.(*virerr.Error); !ok || ve.Code != virerr.ErrInvalidArg || err.Error() != "invalid argument: Failed to parse bitmap 'a-'" {
		t.Errorf("bad advice: %#v", err)
	}
	// numad -w VCPUS:MiB with the current vCPUs and the memory rounded up.
	args := filepath.Join(dir, "args")
	script("echo \"$@\" > " + args + "\necho 0\n")
	ap, err := prepareNUMAPlacement(auto)
	if err != nil || ap == nil || len(ap.cpus) == 0 {
		t.Fatalf("advice 0: %v %v", ap, err)
	}
	if b, _ := os.ReadFile(args); string(b) != "-w 2:98\n" {
		t.Errorf("numad arguments %q", b)
	}
}

// The advice reaches threads only where libvirt applies it: CPUs for a
// vcpu placement='auto' guest without pins of its own, memory nodes for
// numatune placement='auto' in strict or restrictive mode.
func TestAutoPlacementUse(t *testing.T) {
	ap := &autoPlacement{cpus: []int{2, 3}, nodes: []int{1}}
	auto := numadDef(t, "<vcpu placement='auto'>2</vcpu>")
	p := applyAutoPinning(auto, ap, nil)
	if p == nil || !reflect.DeepEqual(p.Default, []int{2, 3}) || !reflect.DeepEqual(p.Initial(), []int{2, 3}) {
		t.Errorf("auto pinning %+v", p)
	}
	if got := pinSet(auto, "vcpupin", 0, ap.cpus); !reflect.DeepEqual(got, []int{2, 3}) {
		t.Errorf("vcpupin %v", got)
	}
	memOnly := numadDef(t, "<vcpu cpuset='0'>2</vcpu><numatune><memory placement='auto'/></numatune>")
	if p := applyAutoPinning(memOnly, ap, &command.Pinning{Default: []int{0}}); !reflect.DeepEqual(p.Default, []int{0}) {
		t.Errorf("static vcpus got %v", p.Default)
	}
	if m := numaMemMask(memOnly, ap); m != "1" {
		t.Errorf("mems %q", m)
	}
	if m := numaMemMask(numadDef(t, "<vcpu placement='auto'>2</vcpu><numatune><memory mode='interleave'/></numatune>"), ap); m != "" {
		t.Errorf("interleave mems %q", m)
	}
	if m := numaMemMask(numadDef(t, "<vcpu>2</vcpu><numatune><memory nodeset='0'/></numatune>"), ap); m != "0" {
		t.Errorf("static mems %q", m)
	}
}
