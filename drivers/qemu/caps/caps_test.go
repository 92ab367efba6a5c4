package caps

import (
	"encoding/json"
	"encoding/xml"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// recordedCaps is the part of libvirt's caps_*.xml the tests compare.
type recordedCaps struct {
	Flags []struct {
		Name string `xml:"name,attr"`
	} `xml:"flag"`
	Version uint64 `xml:"version"`
	Package string `xml:"package"`
	Arch    string `xml:"arch"`
	CPUs    []struct {
		Type     string `xml:"type,attr"`
		Name     string `xml:"name,attr"`
		TypeName string `xml:"typename,attr"`
		Usable   string `xml:"usable,attr"`
		Blockers []struct {
			Name string `xml:"name,attr"`
		} `xml:"blocker"`
	} `xml:"cpu"`
	Machines []struct {
		Type       string `xml:"type,attr"`
		Name       string `xml:"name,attr"`
		Alias      string `xml:"alias,attr"`
		MaxCPUs    int    `xml:"maxCpus,attr"`
		Default    string `xml:"default,attr"`
		Deprecated string `xml:"deprecated,attr"`
		Hotplug    string `xml:"hotplugCpus,attr"`
		NUMAMem    string `xml:"numaMemSupported,attr"`
		DefaultCPU string `xml:"defaultCPU,attr"`
		DefaultRAM string `xml:"defaultRAMid,attr"`
	} `xml:"machine"`
}

func loadRecorded(t *testing.T) *recordedCaps {
	t.Helper()
	dir := conformanceDir(t)
	data, err := os.ReadFile(filepath.Join(dir, "qemucapabilitiesdata", "caps_7.2.0.x86_64.xml"))
	if err != nil {
		t.Fatal(err)
	}
	var rc recordedCaps
	if err := xml.Unmarshal(data, &rc); err != nil {
		t.Fatal(err)
	}
	return &rc
}

func TestReplayBasics(t *testing.T) {
	c := probeReplay(t)
	rc := loadRecorded(t)
	if c.Version != 7002000 || c.Version != rc.Version {
		t.Errorf("version %d, libvirt recorded %d", c.Version, rc.Version)
	}
	if c.Package != rc.Package || c.Arch != "x86_64" || c.Arch != rc.Arch {
		t.Errorf("package/arch %q/%q, want %q/%q", c.Package, c.Arch, rc.Package, rc.Arch)
	}
	if !c.KVM.Present || !c.KVM.Enabled || !c.Has("kvm") {
		t.Errorf("kvm not recorded: %+v", c.KVM)
	}
	if got := c.VirtTypes(); !slices.Equal(got, []string{"qemu", "kvm"}) {
		t.Errorf("virt types %v", got)
	}
	for _, cmd := range []string{"blockdev-add", "device_add", "query-display-options", "netdev_add"} {
		if !c.HasCommand(cmd) {
			t.Errorf("command %s missing", cmd)
		}
	}
	for _, typ := range []string{"virtio-blk-pci", "pcie-root-port", "qemu-xhci"} {
		if !c.HasType(typ) {
			t.Errorf("type %s missing", typ)
		}
	}
	if !c.HasEvent("SHUTDOWN") || !c.HasEvent("BLOCK_JOB_COMPLETED") {
		t.Errorf("events from schema missing: %d events", len(c.Events))
	}
}

func TestReplayMachines(t *testing.T) {
	c := probeReplay(t)
	rc := loadRecorded(t)
	for _, virt := range []struct{ xmlType, virtType string }{{"kvm", "kvm"}, {"tcg", "qemu"}} {
		var want []string
		for _, m := range rc.Machines {
			if m.Type != virt.xmlType {
				continue
			}
			want = append(want, m.Name)
			got, ok := c.Machine(virt.virtType, m.Name)
			if !ok {
				t.Errorf("%s: machine %s missing", virt.xmlType, m.Name)
				continue
			}
			if got.Alias != m.Alias || got.MaxCPUs != m.MaxCPUs || got.Default != (m.Default == "yes") ||
				got.Deprecated != (m.Deprecated == "yes") || got.HotplugCPUs != (m.Hotplug == "yes") ||
				got.NUMAMem != (m.NUMAMem == "yes") || got.DefaultCPU != m.DefaultCPU || got.DefaultRAM != m.DefaultRAM {
				t.Errorf("%s: machine %s = %+v, libvirt recorded %+v", virt.xmlType, m.Name, got, m)
			}
		}
		var got []string
		for _, m := range c.MachinesFor(virt.virtType) {
			got = append(got, m.Name)
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s machine order:\n got %v\nwant %v", virt.xmlType, got, want)
		}
	}
	if d := c.DefaultMachine(); d != "pc-i440fx-7.2" {
		t.Errorf("default machine %q", d)
	}
	for alias, canon := range map[string]string{"pc": "pc-i440fx-7.2", "q35": "pc-q35-7.2", "pc-q35-6.0": "pc-q35-6.0"} {
		if got := c.MachineAlias(alias); got != canon {
			t.Errorf("MachineAlias(%s) = %s, want %s", alias, got, canon)
		}
	}
	if m, _ := c.Machine("kvm", "q35"); m.MaxCPUs != 288 {
		t.Errorf("q35 maxCpus %d", m.MaxCPUs)
	}
	if m, _ := c.Machine("kvm", "pc"); m.MaxCPUs != 255 {
		t.Errorf("pc maxCpus %d", m.MaxCPUs)
	}
}

func TestReplayCPUModels(t *testing.T) {
	c := probeReplay(t)
	rc := loadRecorded(t)
	for _, virt := range []struct{ xmlType, virtType string }{{"kvm", "kvm"}, {"tcg", "qemu"}} {
		models := c.CPUModelsFor(virt.virtType)
		var n int
		for _, want := range rc.CPUs {
			if want.Type != virt.xmlType {
				continue
			}
			if n >= len(models) {
				t.Errorf("%s: only %d models", virt.xmlType, len(models))
				break
			}
			got := models[n]
			n++
			var blockers []string
			for _, b := range want.Blockers {
				blockers = append(blockers, b.Name)
			}
			usable := "no"
			if got.Usable {
				usable = "yes"
			}
			if got.Name != want.Name || got.TypeName != want.TypeName || !got.UsableKnown ||
				usable != want.Usable || !slices.Equal(got.Blockers, blockers) {
				t.Errorf("%s model %d: got %+v, libvirt recorded %s %s usable=%s %v",
					virt.xmlType, n, got, want.Name, want.TypeName, want.Usable, blockers)
			}
		}
		if n != len(models) {
			t.Errorf("%s: %d models, libvirt recorded %d", virt.xmlType, len(models), n)
		}
	}
}

func TestReplayFlags(t *testing.T) {
	c := probeReplay(t)
	rc := loadRecorded(t)
	recorded := map[string]bool{}
	for _, f := range rc.Flags {
		recorded[f.Name] = true
	}
	// Every flag libvirt recorded must be derived, and nothing else
	// except the govirt-only names.
	var missing, extra []string
	for f := range recorded {
		if !c.Has(f) {
			missing = append(missing, f)
		}
	}
	for _, f := range c.Flags {
		if !recorded[f] && !IsGovirtOnlyFlag(f) {
			extra = append(extra, f)
		}
	}
	slices.Sort(missing)
	slices.Sort(extra)
	if len(missing) > 0 {
		t.Errorf("flags libvirt recorded but govirt did not derive: %s", strings.Join(missing, " "))
	}
	if len(extra) > 0 {
		t.Errorf("flags govirt derived but libvirt did not record: %s", strings.Join(extra, " "))
	}
	for _, f := range []string{"blockdev", "query-display-options", "device.json+hotplug", "netdev.stream",
		"object.qapified", "netdev.json", "incremental-backup"} {
		if !c.Has(f) {
			t.Errorf("flag %s not derived", f)
		}
	}
	t.Logf("%d flags derived, %d recorded by libvirt", len(c.Flags), len(recorded))
}

func TestReplayJSONRoundTrip(t *testing.T) {
	c := probeReplay(t)
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	var back Caps
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	b2, _ := json.Marshal(&back)
	if string(b) != string(b2) {
		t.Error("JSON round trip changed the caps")
	}
	slim, _ := json.Marshal(c.Slim())
	sb, _ := json.Marshal(c.Schema)
	t.Logf("persisted caps: %d bytes (%d of them schema); slim %d bytes", len(b), len(sb), len(slim))
	if !back.Has("blockdev") || back.ValidateCommand("blockdev-add", []string{"driver", "node-name"}) != nil {
		t.Error("decoded caps lost flags or schema")
	}
}
