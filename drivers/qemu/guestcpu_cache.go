package qemu

import (
	"context"
	"strconv"
	"strings"
	"sync"

	"govirt/drivers/qemu/caps"
	"govirt/drivers/qemu/guestcpu"
	"govirt/internal/cpux86"
)

// Reading the CPU QEMU created takes one qom-get per boolean property of
// the vCPU: several hundred commands, which QEMU's monitor reads a byte
// per main-loop turn. Under load that was most of a start's time, and
// the answer only depends on what makes the vCPU: the QEMU binary, the
// host kernel (KVM's CPUID), and the machine, accelerator, CPU, topology,
// global properties and overcommit options of the command line. So the
// first start with a given combination reads the vCPU back and later
// ones reuse what it read (kept on disk too, guestcpu_persist.go; a
// changed binary, kernel or host CPU reads again). The check against the
// definition (guestcpu.Apply) still runs for every start.

// guestCPUCacheMax bounds the entries; past it the cache starts over.
const guestCPUCacheMax = 64

type guestCPURead struct{ enabled, disabled *cpux86.GuestData }

type guestCPUCache struct {
	dir      string    // where the cache is kept on disk ("": memory only)
	loadOnce sync.Once // the file is read at the first lookup
	hostCPU  string    // hostCPUIdentity, set by load
	saveMu   sync.Mutex

	mu       sync.Mutex
	m        map[string]guestCPURead
	inflight map[string]chan struct{} // closed when the read of a key ends
}

// guestCPUOptions are the command-line options that shape the vCPU.
var guestCPUOptions = map[string]bool{
	"-machine": true, "-M": true, "-accel": true, "-cpu": true, "-smp": true,
	"-global": true, "-overcommit": true, "-enable-kvm": false, "-no-kvm": false,
}

// guestCPUKey is the cache key for a QEMU started with argv.
func guestCPUKey(qc *caps.Caps, argv []string) string {
	var b strings.Builder
	if qc != nil {
		b.WriteString(qc.Binary + "\x00" + strconv.FormatInt(qc.BinarySize, 10) + "\x00" +
			strconv.FormatInt(qc.BinaryCtime, 10) + "\x00" + qc.KernelVersion + "\x00" +
			strconv.FormatUint(qc.Version, 10))
	} else if len(argv) > 0 {
		b.WriteString(argv[0])
	}
	for i := 1; i < len(argv); i++ {
		hasValue, ok := guestCPUOptions[argv[i]]
		if !ok {
			continue
		}
		b.WriteString("\x00" + argv[i])
		if hasValue && i+1 < len(argv) {
			i++
			b.WriteString("\x00" + argv[i])
		}
	}
	return b.String()
}

// fetch returns the vCPU's features for key, reading them from mon the
// first time. Starts with the same key wait for a read in flight rather
// than all reading at once; reads that fail are not kept.
func (c *guestCPUCache) fetch(ctx context.Context, key string, mon monitor) (enabled, disabled *cpux86.GuestData, err error) {
	c.loadOnce.Do(c.load)
	for {
		c.mu.Lock()
		if r, ok := c.m[key]; ok {
			c.mu.Unlock()
			return r.enabled, r.disabled, nil
		}
		wait, busy := c.inflight[key]
		if !busy {
			if c.inflight == nil {
				c.inflight = map[string]chan struct{}{}
			}
			wait = make(chan struct{})
			c.inflight[key] = wait
			c.mu.Unlock()
			break
		}
		c.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		}
	}
	enabled, disabled, err = guestcpu.Fetch(ctx, mon)
	c.mu.Lock()
	kept := err == nil && enabled != nil
	if kept {
		if c.m == nil || len(c.m) >= guestCPUCacheMax {
			c.m = map[string]guestCPURead{}
		}
		c.m[key] = guestCPURead{enabled, disabled}
	}
	close(c.inflight[key])
	delete(c.inflight, key)
	c.mu.Unlock()
	if kept {
		c.save()
	}
	return enabled, disabled, err
}
