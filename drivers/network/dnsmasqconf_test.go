package network

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func conformanceDir(t *testing.T) string {
	dir := os.Getenv("GOVIRT_CONFORMANCE_DIR")
	if dir == "" {
		dir = "../../../shared/conformance/libvirt-9.0.0"
	}
	dir = filepath.Join(dir, "networkxml2confdata")
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("libvirt's networkxml2confdata corpus not found (%s); set GOVIRT_CONFORMANCE_DIR", dir)
	}
	return dir
}

// TestDnsmasqConfGolden generates dnsmasq's configuration and hosts file
// for every input of libvirt's networkxml2conftest and compares them with
// the files libvirt generated.
func TestDnsmasqConfGolden(t *testing.T) {
	dir := conformanceDir(t)
	inputs, _ := filepath.Glob(filepath.Join(dir, "*.xml"))
	if len(inputs) == 0 {
		t.Fatal("no inputs")
	}
	for _, in := range inputs {
		name := strings.TrimSuffix(filepath.Base(in), ".xml")
		t.Run(name, func(t *testing.T) {
			doc, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			n, err := parseNetXML(doc)
			if err != nil {
				t.Fatal(err)
			}
			got, err := dnsmasqConfig(n, "/var/lib/libvirt/dnsmasq", "")
			if err != nil {
				t.Fatal(err)
			}
			want, err := os.ReadFile(filepath.Join(dir, name+".conf"))
			if err != nil {
				t.Fatal(err)
			}
			if got.conf != string(want) {
				t.Errorf("conf differs\n--- got\n%s\n--- want\n%s", got.conf, want)
			}
			wantHosts, err := os.ReadFile(filepath.Join(dir, name+".hostsfile"))
			if err != nil {
				wantHosts = nil
			}
			if got.hosts != string(wantHosts) {
				t.Errorf("hostsfile differs\n--- got\n%s\n--- want\n%s", got.hosts, wantHosts)
			}
		})
	}
}
