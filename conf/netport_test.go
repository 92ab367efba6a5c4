package conf

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestNetworkPortGoldens reads libvirt 9.0's virnetworkportxml2xml data
// and writes each document back unchanged, as its test does.
func TestNetworkPortGoldens(t *testing.T) {
	src := os.Getenv("GOVIRT_LIBVIRT_SRC")
	if src == "" {
		src = "/work/lvsrc/libvirt-9.0.0"
	}
	files, _ := filepath.Glob(filepath.Join(src, "tests/virnetworkportxml2xmldata/*.xml"))
	if len(files) == 0 {
		t.Skip("libvirt's virnetworkportxml2xmldata not found (set GOVIRT_LIBVIRT_SRC)")
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		p, err := ParseNetworkPort(data)
		if err != nil {
			t.Errorf("%s: %v", filepath.Base(f), err)
			continue
		}
		if got := string(p.Format()); got != string(data) {
			t.Errorf("%s:\n got %s\nwant %s", filepath.Base(f), got, data)
		}
		if got := string(p.Clone().Format()); got != string(data) {
			t.Errorf("%s: clone differs", filepath.Base(f))
		}
	}
}

func TestNetworkPortErrors(t *testing.T) {
	for _, c := range []struct{ doc, want string }{
		{`<networkport/>`, "network port has no uuid"},
		{`<networkport><uuid>x</uuid></networkport>`, "Unable to parse UUID 'x'"},
		{`<networkport><uuid>5d744f21-ba4a-4d6e-bdb2-30a35ff3207d</uuid></networkport>`, "network port has no owner name"},
		{`<networkport><uuid>5d744f21-ba4a-4d6e-bdb2-30a35ff3207d</uuid><owner><name>a</name></owner></networkport>`, "network port has no owner UUID"},
		{`<networkport><uuid>5d744f21-ba4a-4d6e-bdb2-30a35ff3207d</uuid><owner><name>a</name><uuid>5d744f21-ba4a-4d6e-bdb2-30a35ff3207d</uuid></owner></networkport>`, "network port has no mac"},
		{`<networkport><uuid>5d744f21-ba4a-4d6e-bdb2-30a35ff3207d</uuid><owner><name>a</name><uuid>5d744f21-ba4a-4d6e-bdb2-30a35ff3207d</uuid></owner><mac address='52:54:00:00:00:01'/><plug type='bridge'/></networkport>`, "Missing network port bridge name"},
		{`<network/>`, "expecting root element of 'networkport', not 'network'"},
	} {
		_, err := ParseNetworkPort([]byte(c.doc))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want %q", c.doc, err, c.want)
		}
	}
}
