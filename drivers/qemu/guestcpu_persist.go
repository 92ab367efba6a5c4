package qemu

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"govirt/atomicfile"
	"govirt/internal/cpux86"
)

// The guest CPU read-back cache (guestcpu_cache.go) is kept on disk next
// to the capabilities cache, as libvirt keeps the host-model CPU it
// probed in its capabilities cache: a restarted daemon starts its first
// guest of each configuration without the several hundred qom-gets, which
// under load were most of that start. Its keys already name the QEMU
// binary (path, size, ctime, version) and the kernel release; the file
// also records the host CPU (vendor, family, model, stepping, microcode,
// flags of /proc/cpuinfo), and a file written on another host CPU or
// microcode is ignored, since KVM's CPUID follows both.

const guestCPUFile = "guestcpu.json"

type guestCPUFileData struct {
	HostCPU string            `json:"hostCPU"`
	Entries []guestCPUFileEnt `json:"entries"`
}

type guestCPUFileEnt struct {
	Key      string        `json:"key"`
	Enabled  *guestDataOut `json:"enabled"`
	Disabled *guestDataOut `json:"disabled,omitempty"`
}

type guestDataOut struct {
	Leaves   []guestLeaf `json:"leaves"`
	Internal []string    `json:"internal,omitempty"`
}

type guestLeaf struct {
	MSR  bool        `json:"msr,omitempty"`
	Leaf uint32      `json:"leaf"`
	Sub  uint32      `json:"sub"`
	Regs cpux86.Regs `json:"regs"`
}

func guestDataToFile(g *cpux86.GuestData) *guestDataOut {
	if g == nil {
		return nil
	}
	out := &guestDataOut{}
	for k, r := range g.Data {
		out.Leaves = append(out.Leaves, guestLeaf{MSR: k.MSR, Leaf: k.Leaf, Sub: k.Sub, Regs: r})
	}
	sort.Slice(out.Leaves, func(i, j int) bool {
		a, b := out.Leaves[i], out.Leaves[j]
		if a.MSR != b.MSR {
			return !a.MSR
		}
		if a.Leaf != b.Leaf {
			return a.Leaf < b.Leaf
		}
		return a.Sub < b.Sub
	})
	for name, on := range g.Internal {
		if on {
			out.Internal = append(out.Internal, name)
		}
	}
	sort.Strings(out.Internal)
	return out
}

func guestDataFromFile(o *guestDataOut) *cpux86.GuestData {
	if o == nil {
		return nil
	}
	g := cpux86.NewGuestData()
	for _, l := range o.Leaves {
		g.Data[cpux86.Key{MSR: l.MSR, Leaf: l.Leaf, Sub: l.Sub}] = l.Regs
	}
	for _, name := range o.Internal {
		g.Internal[name] = true
	}
	return g
}

// hostCPUIdentity is what of /proc/cpuinfo's first processor decides
// the CPUID KVM offers; "" when it cannot be read.
func hostCPUIdentity() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	defer f.Close()
	want := map[string]bool{"vendor_id": true, "cpu family": true, "model": true, "model name": true,
		"stepping": true, "microcode": true, "flags": true}
	var b strings.Builder
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			break // the first processor only
		}
		k, v, ok := strings.Cut(line, ":")
		if k = strings.TrimSpace(k); ok && want[k] {
			b.WriteString(k + "=" + strings.TrimSpace(v) + "\n")
		}
	}
	return b.String()
}

// load reads the file into an empty cache; a missing, unreadable or
// foreign file leaves the cache empty.
func (c *guestCPUCache) load() {
	if c.dir == "" {
		return
	}
	c.hostCPU = hostCPUIdentity()
	data, err := os.ReadFile(filepath.Join(c.dir, guestCPUFile))
	if err != nil || c.hostCPU == "" {
		return
	}
	var f guestCPUFileData
	if json.Unmarshal(data, &f) != nil || f.HostCPU != c.hostCPU {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range f.Entries {
		if e.Key == "" || e.Enabled == nil || len(c.m) >= guestCPUCacheMax {
			continue
		}
		if c.m == nil {
			c.m = map[string]guestCPURead{}
		}
		c.m[e.Key] = guestCPURead{guestDataFromFile(e.Enabled), guestDataFromFile(e.Disabled)}
	}
}

// save writes the cache out; a failure only costs a read after the next
// restart.
func (c *guestCPUCache) save() error {
	if c.dir == "" || c.hostCPU == "" {
		return nil
	}
	c.saveMu.Lock()
	defer c.saveMu.Unlock()
	f := guestCPUFileData{HostCPU: c.hostCPU}
	c.mu.Lock()
	for k, r := range c.m {
		f.Entries = append(f.Entries, guestCPUFileEnt{Key: k, Enabled: guestDataToFile(r.enabled), Disabled: guestDataToFile(r.disabled)})
	}
	c.mu.Unlock()
	sort.Slice(f.Entries, func(i, j int) bool { return f.Entries[i].Key < f.Entries[j].Key })
	data, err := json.Marshal(f)
	if err != nil {
		return err
	}
	// Volatile: a cache lost in a crash is read again.
	return atomicfile.WriteVolatile(filepath.Join(c.dir, guestCPUFile), 0o600, data)
}
