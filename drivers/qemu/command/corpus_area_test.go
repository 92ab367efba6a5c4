package command

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// libvirt's tests of character, input and USB devices whose refusal does
// not depend on the QEMU version: the .err of inputs run with older
// capabilities (qemuxml2argvtest's DO_TEST_PARSE_ERROR / DO_TEST_FAILURE),
// built here with QEMU 8.0's, must be refused with the same message.
var areaErrInputs = []string{
	"usb-bus-missing",
	"usb-controller-qemu-xhci-limit",
	"usb-controller-xhci-limit",
	"usb-hub-conflict",
	"usb-hub-nonexistent",
	"usb-none-hub",
	"usb-none-usbtablet",
	"usb-ports-out-of-range",
	"usb-too-long-port-path-invalid",
}

func TestCorpusAreaErrors(t *testing.T) {
	dir := corpusDir(t)
	cp, err := latestCaps()
	if err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "qemuxml2argvdata")
	for _, name := range areaErrInputs {
		t.Run(name, func(t *testing.T) {
			want, err := os.ReadFile(filepath.Join(data, name+".err"))
			if err != nil {
				t.Fatal(err)
			}
			// These inputs are i686 guests; the x86_64 binary runs them.
			src, err := os.ReadFile(filepath.Join(data, name+".xml"))
			if err != nil {
				t.Fatal(err)
			}
			x := strings.ReplaceAll(string(src), "arch='i686'", "arch='x86_64'")
			x = strings.ReplaceAll(x, "qemu-system-i386", "qemu-system-x86_64")
			file := filepath.Join(t.TempDir(), name+".xml")
			if err := os.WriteFile(file, []byte(x), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err = buildCorpusInput(t, testHostCaps{cp}, file, domainName(file))
			if err == nil {
				t.Fatalf("accepted; libvirt: %s", want)
			}
			if got := strings.TrimSpace(errMessage(err)); got != strings.TrimSpace(string(want)) {
				t.Errorf("libvirt: %s\ngovirt:  %s", strings.TrimSpace(string(want)), got)
			}
		})
	}
}
