package command

import (
	"strings"
	"testing"

	"govirt/conf"
)

// A guest NUMA cell with <numatune><memory placement='auto'>: its memory
// backend is bound to numad's advice (libvirt's autoNodeset); without
// advice (a pretend start) the build fails as libvirt's.
func TestNumatuneAutoMemoryBackend(t *testing.T) {
	cp, err := latestCaps()
	if err != nil {
		t.Skip(err)
	}
	c := testHostCaps{cp}
	xml := `<domain type='qemu'><name>numad</name><memory unit='KiB'>219100</memory>
<vcpu placement='auto'>2</vcpu><os><type arch='x86_64' machine='pc'>hvm</type></os>
<cpu><numa><cell id='0' cpus='0-1' memory='219100' unit='KiB'/></numa></cpu>
<devices><emulator>/usr/bin/qemu-system-x86_64</emulator></devices></domain>`
	build := func(nodes []int) (string, error) {
		def, err := conf.ParseDomain([]byte(xml), 0)
		if err != nil {
			t.Fatal(err)
		}
		p := corpusPaths(def.Name)
		p.AutoNodeset = nodes
		cl, err := Build(def, c, p)
		if err != nil {
			return "", err
		}
		return strings.Join(cl.Argv, " "), nil
	}
	out, err := build([]int{0, 2})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, `"host-nodes":[0,2],"policy":"bind"`) {
		t.Errorf("memory backend not bound to the advice:\n%s", out)
	}
	if _, err := build(nil); err == nil || err.Error() != "internal error: Advice from numad is needed in case of automatic numa placement" {
		t.Errorf("without advice: %v", err)
	}
}
