package qemu

import (
	"strings"
	"testing"

	"govirt/drivers/qemu/command"
)

// Without a group (unprivileged daemon, no cgroups) libvirt starts a guest
// with shares, memtune and blkiotune, ignoring them, and refuses only CFS
// bandwidth.
func TestCgroupMissingWithoutGroup(t *testing.T) {
	base := command.Tunables{HardLimit: command.MemUnlimited, SoftLimit: command.MemUnlimited, SwapHardLimit: command.MemUnlimited}
	ignored := base
	ignored.Shares, ignored.SharesSet, ignored.HardLimit, ignored.BlkioWeight = 512, true, 1024, 300
	if err := cgroupMissing(&ignored, nil); err != nil {
		t.Errorf("shares/memtune/blkiotune without cgroups: %v", err)
	}
	for _, set := range []func(*command.Tunables){
		func(x *command.Tunables) { x.Quota = 50000 },
		func(x *command.Tunables) { x.EmulatorPeriod = 20000 },
		func(x *command.Tunables) { x.GlobalQuota = -1 },
	} {
		x := base
		set(&x)
		err := cgroupMissing(&x, nil)
		if err == nil || !strings.Contains(err.Error(), "cgroup cpu is required for scheduler tuning") {
			t.Errorf("bandwidth without cgroups: %v", err)
		}
	}
}

func TestCPUList(t *testing.T) {
	for _, c := range []struct {
		in   []int
		want string
	}{{[]int{0}, "0"}, {[]int{0, 1, 2, 5, 7, 8}, "0-2,5,7-8"}, {nil, ""}} {
		if got := cpuList(c.in); got != c.want {
			t.Errorf("cpuList(%v) = %q, want %q", c.in, got, c.want)
		}
	}
}
