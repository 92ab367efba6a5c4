package network

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestFirewallGolden compares the rules with libvirt 9.0's
// networkxml2firewalltest expectations, when libvirt's sources are at
// hand ($GOVIRT_LIBVIRT_SRC or /work/lvsrc/libvirt-9.0.0).
func TestFirewallGolden(t *testing.T) {
	src := os.Getenv("GOVIRT_LIBVIRT_SRC")
	if src == "" {
		src = "/work/lvsrc/libvirt-9.0.0"
	}
	dir := filepath.Join(src, "tests", "networkxml2firewalldata")
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("libvirt's networkxml2firewalldata not found (%s); set GOVIRT_LIBVIRT_SRC", dir)
	}
	for _, name := range []string{"nat-default", "nat-no-dhcp", "nat-many-ips", "nat-ipv6", "nat-tftp", "route-default"} {
		t.Run(name, func(t *testing.T) {
			doc, err := os.ReadFile(filepath.Join(dir, name+".xml"))
			if err != nil {
				t.Fatal(err)
			}
			n, err := parseNetXML(doc)
			if err != nil {
				t.Fatal(err)
			}
			want, err := os.ReadFile(filepath.Join(dir, name+"-linux.args"))
			if err != nil {
				t.Fatal(err)
			}
			// One line per rule, "!" unquoted, as the args files read.
			var b strings.Builder
			for _, r := range firewallRules(n) {
				b.WriteString(strings.Join(r, " ") + "\n")
			}
			norm := strings.NewReplacer(" \\\n", " ", "'!'", "!").Replace(string(want))
			if b.String() != norm {
				t.Errorf("rules differ\n--- got\n%s\n--- want\n%s", b.String(), norm)
			}
		})
	}
}
