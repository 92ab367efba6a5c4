package integration

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// usbDefineInputs are libvirt corpus inputs with USB devices (inputs,
// hubs, host devices, disks, smartcards, redirdevs, serials, USB2
// companions) or libvirt's USB refusals.
var usbDefineInputs = []string{
	"controller-usb-order", "disk-usb-device", "disk-usb-device-removable",
	"graphics-spice-usb-redir", "hostdev-usb-address", "hostdev-usb-address-device",
	"hostdev-usb-address-device-boot", "input-usbmouse", "input-usbmouse-addr",
	"input-usbtablet", "q35-usb2", "q35-usb2-multi", "q35-usb2-reorder",
	"q35-virt-manager-basic", "smartcard-controller", "smartcard-host",
	"smartcard-host-certificates", "smartcard-passthrough-tcp",
	"smartcard-passthrough-unix", "usb-bus-missing", "usb-controller",
	"usb-controller-default-q35", "usb-controller-explicit-q35",
	"usb-controller-xhci", "usb-hub", "usb-hub-autoadd", "usb-hub-autoadd-deluxe",
	"usb-hub-conflict", "usb-hub-nonexistent", "usb-ich9-autoassign",
	"usb-ich9-companion", "usb-ich9-ehci-addr", "usb-long-port-path", "usb-none",
	"usb-none-hub", "usb-none-usbtablet", "usb-port-autoassign", "usb-port-missing",
	"usb-ports", "usb-redir", "usb-redir-boot", "usb-redir-filter",
	"usb-redir-filter-version", "usb-redir-unix", "x86_64-pc-graphics",
	"x86_64-q35-graphics",
}

// usbLine picks the lines of an inactive definition that show USB
// placement: USB and CCID controllers and addresses, and the devices
// that go on USB.
var usbLine = regexp.MustCompile(`^<(address type='(usb|ccid)'|hub |controller type='(ccid|usb)'|input type=[^>]*bus='usb'|redirdev|smartcard|disk |hostdev |sound model='usb'|serial type)`)

// usbPlacement defines file (renamed, without its UUID) on uri and
// returns the USB lines of `dumpxml --inactive`, or the define error;
// the definition is removed again.
func usbPlacement(t *testing.T, uri, file, name string) string {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	xml := regexp.MustCompile(`<name>[^<]*</name>`).ReplaceAllString(string(data), "<name>"+name+"</name>")
	xml = regexp.MustCompile(`\s*<uuid>[^<]*</uuid>`).ReplaceAllString(xml, "")
	path := filepath.Join(t.TempDir(), name+".xml")
	if err := os.WriteFile(path, []byte(xml), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, errOut, rc := virsh(t, uri, "define", path); rc != 0 {
		msg := strings.TrimSpace(errOut)
		if _, last, ok := strings.Cut(msg, "\nerror: "); ok {
			msg = last
		}
		return "error: " + strings.TrimPrefix(msg, "error: ") + "\n"
	}
	defer virsh(t, uri, "undefine", name)
	out, errOut, rc := virsh(t, uri, "dumpxml", "--inactive", name)
	if rc != 0 {
		t.Fatalf("dumpxml --inactive %s: %s", name, errOut)
	}
	var b strings.Builder
	for _, l := range strings.Split(out, "\n") {
		if l = strings.TrimSpace(l); usbLine.MatchString(l) {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

// TestUSBAddressesAtDefine defines libvirt corpus inputs with USB
// devices through virsh and checks that `dumpxml --inactive` shows the
// USB addresses libvirtd 9.0 gives at define
// (qemuDomainAssignUSBAddresses: hubs added when ports run out, given
// addresses kept, hubs placed first), the CCID controller and slot of a
// smartcard, and libvirtd's refusals, as recorded from libvirtd in
// testdata/usb-define. With GOVIRT_LIBVIRTD_COMPARE=1 libvirtd is asked
// again (GOVIRT_USB_RECORD=1 rewrites the recordings from it).
func TestUSBAddressesAtDefine(t *testing.T) {
	needQEMU(t)
	data := filepath.Join(corpusDataDir(t), "qemuxml2argvdata")
	d := startDaemon(t)
	compare := libvirtdCompare(t)
	record := compare && os.Getenv("GOVIRT_USB_RECORD") == "1"
	for _, in := range usbDefineInputs {
		file := filepath.Join(data, in+".xml")
		golden := filepath.Join("testdata", "usb-define", in+".txt")
		name := "gvusb-" + in
		if compare {
			lv := usbPlacement(t, "qemu:///system", file, name)
			if record {
				os.MkdirAll(filepath.Dir(golden), 0o755)
				if err := os.WriteFile(golden, []byte(lv), 0o644); err != nil {
					t.Fatal(err)
				}
			} else if want, _ := os.ReadFile(golden); lv != string(want) {
				t.Errorf("%s: libvirtd now shows\n%s\nrecorded\n%s", in, lv, want)
			}
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatalf("%s: %v (record with GOVIRT_LIBVIRTD_COMPARE=1 GOVIRT_USB_RECORD=1)", in, err)
		}
		if got := usbPlacement(t, d.URI("qemu"), file, name); got != string(want) {
			t.Errorf("%s: govirtd shows\n%s\nlibvirtd\n%s", in, got, want)
		}
	}
}
