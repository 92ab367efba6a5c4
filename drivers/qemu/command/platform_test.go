package command

import (
	"path/filepath"
	"strings"
	"testing"

	"govirt/conf"
)

// TestFirmwareLiveRebuild builds a guest with firmware auto-selection,
// then builds its live definition again (as a reconnect or migration
// does): the recorded loader, varstore and SMM give the same command line.
func TestFirmwareLiveRebuild(t *testing.T) {
	dir := corpusDir(t)
	cp, err := latestCaps()
	if err != nil {
		t.Fatal(err)
	}
	c := testHostCaps{cp}
	def := loadDomain(t, filepath.Join(dir, "qemuxml2argvdata", "firmware-auto-efi.xml"), "")
	first, err := Build(def, c, corpusPaths(def.Name))
	if err != nil {
		t.Fatal(err)
	}
	live, err := def.Format(0)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"<loader readonly='yes' secure='yes' type='pflash'>/usr/share/OVMF/OVMF_CODE.secboot.fd</loader>",
		"<nvram template='/usr/share/OVMF/OVMF_VARS.secboot.fd'>/var/lib/libvirt/qemu/nvram/fedora_VARS.fd</nvram>",
		"<smm state='on'/>"} {
		if !strings.Contains(string(live), want) {
			t.Errorf("live XML lacks %s:\n%s", want, live)
		}
	}
	again, err := conf.ParseDomain(live, 0)
	if err != nil {
		t.Fatal(err)
	}
	second, err := Build(again, c, corpusPaths(def.Name))
	if err != nil {
		t.Fatalf("rebuilding the live definition: %v", err)
	}
	if a, b := formatArgs(first), formatArgs(second); a != b {
		t.Errorf("live rebuild differs:\n%s", unifiedDiff(a, b))
	}
}
