package integration

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// vcpuBlock is the <vcpu> line and the <vcpus> list of a domain XML.
var vcpuBlock = regexp.MustCompile(`(?s)  <vcpu [^\n]*\n(  <vcpus>.*?</vcpus>\n)?`)

// TestQEMUVcpuStates: per-vCPU states (<vcpus>) as libvirt 9.0 keeps
// them. setvcpu --config turns any vCPU on or off (vCPU 3 while 2 is
// off), the persistent XML lists every vCPU, setvcpus --config follows
// the list; a start runs QEMU with the online non-hotpluggable vCPUs
// (-smp) and plugs the online hotpluggable ones as devices; the live XML
// lists QEMU's states with their creation order, also after setvcpus
// --live, and after a save and restore. Every XML is compared with libvirtd 9.0's for the same steps
// when it runs.
func TestQEMUVcpuStates(t *testing.T) {
	needQEMU(t)
	d := startClientsDaemon(t)
	t.Cleanup(func() { killGuests(d) })
	uri := d.URI("qemu")
	dir := t.TempDir()
	write := func(name string) string {
		xml := strings.Replace(testGuestXML(t, name, "", ""), "<vcpu>1</vcpu>", "<vcpu current='2'>4</vcpu>", 1)
		xml = strings.Replace(xml, "<domain type='kvm'>", "<domain type='qemu'>", 1)
		p := filepath.Join(dir, name+".xml")
		if err := os.WriteFile(p, []byte(xml), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	type snap struct{ step, xml string }
	session := func(uri, name string) []snap {
		var out []snap
		mustVirsh(t, uri, "define "+write(name))
		record := func(step, flags string) {
			x := mustVirsh(t, uri, "dumpxml "+flags+" "+name)
			out = append(out, snap{step, vcpuBlock.FindString(x)})
		}
		steps := []string{
			"setvcpu @ 3 --enable --config",
			"setvcpu @ 1 --disable --config",
			"setvcpu @ 2-3 --enable --config",
			"setvcpu @ 3 --disable --config",
			"setvcpus @ 4 --config",
			"setvcpus @ 2 --config",
			"setvcpu @ 3 --enable --config",
		}
		for _, s := range steps {
			mustVirsh(t, uri, strings.ReplaceAll(s, "@", name))
			record(s, "--inactive")
		}
		for _, s := range []string{"setvcpu @ 1 --disable --config", "setvcpu @ 0 --disable --config"} {
			_, e, _ := virsh(t, uri, strings.ReplaceAll(s, "@", name))
			out = append(out, snap{s, strings.TrimSpace(e)})
		}
		mustVirsh(t, uri, "start "+name)
		record("start", "")
		mustVirsh(t, uri, "setvcpus "+name+" 3 --live")
		record("setvcpus 3 --live", "")
		// A restore plugs the same vCPUs before QEMU reads the state.
		img := filepath.Join(dir, name+".save")
		mustVirsh(t, uri, "save "+name+" "+img)
		mustVirsh(t, uri, "restore "+img)
		record("save and restore", "")
		mustVirsh(t, uri, "destroy "+name)
		mustVirsh(t, uri, "undefine "+name)
		return out
	}
	got := session(uri, "vst")
	for _, s := range got {
		t.Logf("%s:\n%s", s.step, s.xml)
	}
	// vCPU 3 was enabled while 2 was off.
	want := "  <vcpu placement='static' current='3'>4</vcpu>\n  <vcpus>\n" +
		"    <vcpu id='0' enabled='yes' hotpluggable='no'/>\n" +
		"    <vcpu id='1' enabled='yes' hotpluggable='no'/>\n" +
		"    <vcpu id='2' enabled='no' hotpluggable='yes'/>\n" +
		"    <vcpu id='3' enabled='yes' hotpluggable='yes'/>\n  </vcpus>\n"
	if got[6].xml != want {
		t.Errorf("after %s:\n%s\nwant\n%s", got[6].step, got[6].xml, want)
	}
	if !strings.Contains(got[8].xml, "vCPU '0' can't be modified") {
		t.Errorf("%s: %s", got[8].step, got[8].xml)
	}
	// Started: vCPU 3 plugged after vCPU 0, then vCPU 1 by setvcpus.
	if !strings.Contains(got[9].xml, "<vcpu id='3' enabled='yes' hotpluggable='yes' order='2'/>") ||
		!strings.Contains(got[10].xml, "<vcpu id='1' enabled='yes' hotpluggable='yes' order='3'/>") {
		t.Errorf("live vCPU states:\n%s\n%s", got[9].xml, got[10].xml)
	}
	if libvirtdUp() {
		lv := session(libvirtdURI, "govirt-vst")
		t.Cleanup(func() {
			virsh(t, libvirtdURI, "destroy govirt-vst")
			virsh(t, libvirtdURI, "undefine govirt-vst")
		})
		for i := range got {
			a := strings.ReplaceAll(got[i].xml, "'vst'", "'NAME'")
			b := strings.ReplaceAll(lv[i].xml, "'govirt-vst'", "'NAME'")
			if a != b {
				t.Errorf("%s: govirtd\n%s\nlibvirtd\n%s", got[i].step, a, b)
			}
		}
	}
}
