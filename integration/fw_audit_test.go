package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Issue 13's firmware and TPM, audited side by side with libvirtd 9.0
// through virsh: what libvirt refuses at define (not only at start), the
// varstore a UEFI image given by path gets at define and the template it
// takes from the image's descriptor at start, the order libvirt writes
// firmware features in, and the TPM defaults libvirt fills in at define.

// fwAuditXML is a small q35 guest with os and devices inserted.
func fwAuditXML(name, osXML, features, devices string) string {
	return `<domain type='qemu'>
  <name>` + name + `</name>
  <memory unit='MiB'>256</memory>
  <vcpu>1</vcpu>
  ` + osXML + `
  <features><acpi/>` + features + `</features>
  <devices>` + devices + `</devices>
</domain>
`
}

// defineResult defines xml through virsh on uri and returns virsh's
// error text ("" when it was defined); a defined guest is undefined
// again unless keep.
func defineResult(t *testing.T, uri, name, xml string, keep bool) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name+".xml")
	if err := os.WriteFile(path, []byte(xml), 0o644); err != nil {
		t.Fatal(err)
	}
	_, errOut, rc := virsh(t, uri, "define", path)
	if rc != 0 {
		// The last line is the error; the first names the file.
		lines := strings.Split(strings.TrimSpace(errOut), "\n")
		return lines[len(lines)-1]
	}
	if !keep {
		virsh(t, uri, "undefine", "--nvram", "--tpm", name)
	}
	return ""
}

const q35 = `<type arch='x86_64' machine='q35'>hvm</type>`

// TestFirmwareAuditDefineRefusals: libvirt refuses these at define
// (virDomainDefOSValidate, qemuValidateDomainDefBoot,
// qemuValidateDomainDefTPMs, qemuValidateDomainDeviceDefTPM); govirtd
// used to take them and fail only at start.
func TestFirmwareAuditDefineRefusals(t *testing.T) {
	d := startDaemon(t)
	uri := d.URI("qemu")
	cases := []struct{ name, os, features, devices, want string }{
		{"fwsecno", `<os firmware='efi'>` + q35 + `<loader secure='no'/></os>`, "", "",
			"loader attribute 'secure' cannot be specified when firmware autoselection is enabled"},
		{"fwekeys", `<os firmware='efi'>` + q35 + `<firmware><feature enabled='yes' name='enrolled-keys'/><feature enabled='no' name='secure-boot'/></firmware></os>`, "", "",
			"firmware feature 'enrolled-keys' cannot be enabled when firmware feature 'secure-boot' is disabled"},
		{"fwnosmm", `<os>` + q35 + `<loader readonly='yes' secure='yes' type='pflash'>/usr/share/OVMF/OVMF_CODE_4M.secboot.fd</loader></os>`, "", "",
			"unsupported configuration: Secure boot requires SMM feature enabled"},
		{"fwi440", `<os><type arch='x86_64' machine='pc'>hvm</type><loader readonly='yes' secure='yes' type='pflash'>/usr/share/OVMF/OVMF_CODE_4M.secboot.fd</loader></os>`, "<smm state='on'/>", "",
			"unsupported configuration: Secure boot is supported with q35 machine types only"},
		{"fwnoauto", `<os>` + q35 + `<firmware><feature enabled='yes' name='secure-boot'/></firmware></os>`, "", "",
			"cannot use feature-based firmware autoselection when firmware autoselection is disabled"},
		{"tpmcrb12", `<os>` + q35 + `</os>`, "", `<tpm model='tpm-crb'><backend type='emulator' version='1.2'/></tpm>`,
			"unsupported configuration: Unsupported interface 'tpm-crb' for TPM 1.2"},
		{"tpmproxy", `<os>` + q35 + `</os>`, "", `<tpm model='spapr-tpm-proxy'><backend type='emulator'/></tpm>`,
			"unsupported configuration: The QEMU executable /usr/bin/qemu-system-x86_64 does not support TPM model spapr-tpm-proxy"},
		{"tpmtwo", `<os>` + q35 + `</os>`, "", `<tpm model='tpm-tis'><backend type='emulator' version='2.0'/></tpm><tpm model='tpm-crb'><backend type='emulator' version='2.0'/></tpm>`,
			"unsupported configuration: only a single TPM non-proxy device is supported"},
	}
	withLibvirtd := libvirtdUp()
	for _, c := range cases {
		xml := fwAuditXML(c.name, c.os, c.features, c.devices)
		got := defineResult(t, uri, c.name, xml, false)
		if !strings.Contains(got, c.want) {
			t.Errorf("%s: govirtd define: %q, want %q", c.name, got, c.want)
		}
		if withLibvirtd {
			lv := defineResult(t, libvirtdURI, c.name, xml, false)
			if lv != got {
				t.Errorf("%s: govirtd says %q, libvirtd %q", c.name, got, lv)
			}
		}
	}
	if out := mustVirsh(t, uri, "list --all --name"); strings.TrimSpace(out) != "" {
		t.Errorf("refused definitions were kept: %q", out)
	}
}

// TestFirmwareAuditDefineDefaults: what libvirt writes into a
// definition at define: the varstore of a read-only UEFI image given by
// path (qemuDomainDefPostParse), the TPM frontend model and the
// emulator's version (qemuDomainTPMDefPostParse), and <os><firmware>'s
// features in its own order.
func TestFirmwareAuditDefineDefaults(t *testing.T) {
	d := startDaemon(t)
	uri := d.URI("qemu")
	nvramDir := filepath.Join(d.dir, "state", "qemu", "nvram")
	cases := []struct {
		name, os, devices  string
		want, wantLibvirtd []string // in dumpxml --inactive
	}{
		{"oldro", `<os>` + q35 + `<loader readonly='yes' type='pflash'>/usr/share/OVMF/OVMF_CODE_4M.fd</loader></os>`, "",
			[]string{"<nvram>" + nvramDir + "/oldro_VARS.fd</nvram>"},
			[]string{"<nvram>/var/lib/libvirt/qemu/nvram/oldro_VARS.fd</nvram>"}},
		{"oldtpl", `<os>` + q35 + `<loader readonly='yes' type='pflash'>/usr/share/OVMF/OVMF_CODE_4M.fd</loader><nvram template='/usr/share/OVMF/OVMF_VARS_4M.fd'/></os>`, "",
			[]string{"<nvram template='/usr/share/OVMF/OVMF_VARS_4M.fd'>" + nvramDir + "/oldtpl_VARS.fd</nvram>"},
			[]string{"<nvram template='/usr/share/OVMF/OVMF_VARS_4M.fd'>/var/lib/libvirt/qemu/nvram/oldtpl_VARS.fd</nvram>"}},
		{"fwfeat", `<os firmware='efi'>` + q35 + `<firmware><feature enabled='yes' name='secure-boot'/><feature enabled='no' name='enrolled-keys'/></firmware></os>`, "",
			[]string{"<feature enabled='no' name='enrolled-keys'/>\n      <feature enabled='yes' name='secure-boot'/>"}, nil},
		{"tpmdef", `<os>` + q35 + `</os>`, `<tpm><backend type='emulator'/></tpm>`,
			[]string{"<tpm model='tpm-tis'>\n      <backend type='emulator' version='1.2'/>"}, nil},
		{"tpmcrb", `<os>` + q35 + `</os>`, `<tpm model='tpm-crb'><backend type='emulator'/></tpm>`,
			[]string{"<tpm model='tpm-crb'>\n      <backend type='emulator' version='2.0'/>"}, nil},
	}
	withLibvirtd := libvirtdUp()
	for _, c := range cases {
		xml := fwAuditXML(c.name, c.os, "", c.devices)
		if msg := defineResult(t, uri, c.name, xml, true); msg != "" {
			t.Fatalf("%s: define: %s", c.name, msg)
		}
		out := mustVirsh(t, uri, "dumpxml --inactive "+c.name)
		for _, w := range c.want {
			if !strings.Contains(out, w) {
				t.Errorf("%s: dumpxml --inactive lacks %q:\n%s", c.name, w, out)
			}
		}
		mustVirsh(t, uri, "undefine --nvram --tpm "+c.name)
		if !withLibvirtd {
			continue
		}
		lwant := c.wantLibvirtd
		if lwant == nil {
			lwant = c.want
		}
		if msg := defineResult(t, libvirtdURI, c.name, xml, true); msg != "" {
			t.Fatalf("%s: libvirtd define: %s", c.name, msg)
		}
		lout, _, _ := virsh(t, libvirtdURI, "dumpxml", "--inactive", c.name)
		virsh(t, libvirtdURI, "undefine", "--nvram", "--tpm", c.name)
		for _, w := range lwant {
			if !strings.Contains(lout, w) {
				t.Errorf("%s: libvirtd's dumpxml --inactive lacks %q (the test's expectation is wrong):\n%s", c.name, w, lout)
			}
		}
	}
}

// TestFirmwareAuditOldStyleUEFI: a UEFI image given by path, with no
// template, starts (libvirt takes the template from the descriptor of
// that image; govirtd used to fail with "unable to find any master var
// store for loader"); the live definition records the template, a secure
// image's varstore comes from its own descriptor, the varstore outlives
// the guest, undefine refuses to drop it silently and undefine --nvram
// removes it.
func TestFirmwareAuditOldStyleUEFI(t *testing.T) {
	if _, err := exec.LookPath("qemu-system-x86_64"); err != nil {
		t.Skip("qemu-system-x86_64 not installed")
	}
	for _, f := range []string{"/usr/share/qemu/firmware/60-edk2-x86_64.json", "/usr/share/qemu/firmware/50-edk2-x86_64-secure.json"} {
		if _, err := os.Stat(f); err != nil {
			t.Skip("no Debian OVMF descriptors")
		}
	}
	d := startDaemon(t)
	t.Cleanup(func() { killGuests(d) })
	uri := d.URI("qemu")
	nvramDir := filepath.Join(d.dir, "state", "qemu", "nvram")
	cases := []struct{ name, os, features, wantLive string }{
		{"plain", `<os>` + q35 + `<loader readonly='yes' type='pflash'>/usr/share/OVMF/OVMF_CODE_4M.fd</loader></os>`, "",
			"<nvram template='/usr/share/OVMF/OVMF_VARS_4M.fd'>" + nvramDir + "/plain_VARS.fd</nvram>"},
		{"secure", `<os>` + q35 + `<loader readonly='yes' secure='yes' type='pflash'>/usr/share/OVMF/OVMF_CODE_4M.secboot.fd</loader><nvram>` + nvramDir + `/own_VARS.fd</nvram></os>`, "<smm state='on'/>",
			"<nvram template='/usr/share/OVMF/OVMF_VARS_4M.fd'>" + nvramDir + "/own_VARS.fd</nvram>"},
	}
	for _, c := range cases {
		if msg := defineResult(t, uri, c.name, fwAuditXML(c.name, c.os, c.features, ""), true); msg != "" {
			t.Fatalf("%s: define: %s", c.name, msg)
		}
		mustVirsh(t, uri, "start "+c.name)
		live := mustVirsh(t, uri, "dumpxml "+c.name)
		if !strings.Contains(live, c.wantLive) {
			t.Errorf("%s: live definition lacks %q:\n%s", c.name, c.wantLive, live)
		}
		mustVirsh(t, uri, "destroy "+c.name)
		// Started again, the varstore exists: it is kept as it is.
		mustVirsh(t, uri, "start "+c.name)
		mustVirsh(t, uri, "destroy "+c.name)
		// start --reset-nvram makes it anew from the same template.
		mustVirsh(t, uri, "start --reset-nvram "+c.name)
		mustVirsh(t, uri, "destroy "+c.name)
		_, errOut, rc := virsh(t, uri, "undefine", c.name)
		if rc == 0 || !strings.Contains(errOut, "cannot undefine domain with nvram") {
			t.Errorf("%s: undefine without --nvram: rc=%d %s", c.name, rc, errOut)
		}
		mustVirsh(t, uri, "undefine --nvram "+c.name)
	}
	if ents, _ := os.ReadDir(nvramDir); len(ents) != 0 {
		t.Errorf("undefine --nvram left %v in %s", ents, nvramDir)
	}
}

// TestFirmwareAuditTPMPassthroughMissing: a passthrough TPM on a host
// without /dev/tpm0 fails as libvirt's (the device cannot be opened),
// not with a complaint about its sysfs cancel file, for which libvirt
// falls back to /dev/null.
func TestFirmwareAuditTPMPassthroughMissing(t *testing.T) {
	if _, err := os.Stat("/dev/tpm0"); err == nil {
		t.Skip("this host has a TPM")
	}
	d := startDaemon(t)
	t.Cleanup(func() { killGuests(d) })
	uri := d.URI("qemu")
	xml := fwAuditXML("tpmpt", `<os>`+q35+`</os>`, "", `<tpm model='tpm-tis'><backend type='passthrough'><device path='/dev/tpm0'/></backend></tpm>`)
	if msg := defineResult(t, uri, "tpmpt", xml, true); msg != "" {
		t.Fatalf("define: %s", msg)
	}
	const want = "Could not open TPM device /dev/tpm0: No such file or directory"
	_, errOut, rc := virsh(t, uri, "start", "tpmpt")
	if rc == 0 || !strings.Contains(errOut, want) {
		t.Errorf("start: rc=%d %s, want %q", rc, errOut, want)
	}
	if libvirtdUp() {
		if msg := defineResult(t, libvirtdURI, "tpmpt", xml, true); msg == "" {
			_, lerr, _ := virsh(t, libvirtdURI, "start", "tpmpt")
			virsh(t, libvirtdURI, "undefine", "tpmpt")
			if !strings.Contains(lerr, want) {
				t.Errorf("libvirtd says %q, not %q", lerr, want)
			}
		}
	}
}

// TestPlatformAudit: platform features as libvirt: features of other
// architectures refused at define with libvirt's message (govirtd
// refused them only at start, with its own), a variable clock counted
// from localtime recorded from UTC for the run, and a TSC frequency the
// host cannot give refused at start as libvirt's
// qemuProcessStartValidateTSC (govirtd started the guest).
func TestPlatformAudit(t *testing.T) {
	if _, err := exec.LookPath("qemu-system-x86_64"); err != nil {
		t.Skip("qemu-system-x86_64 not installed")
	}
	d := startDaemon(t)
	t.Cleanup(func() { killGuests(d) })
	uri := d.URI("qemu")
	withLibvirtd := libvirtdUp()
	for _, c := range []struct{ name, features, want string }{
		{"pfgic", "<gic version='3'/>", "unsupported configuration: The 'gic' feature is not supported for architecture 'x86_64' or machine type 'pc-q35-7.2'"},
		{"pfhpt", "<hpt resizing='enabled'/>", "unsupported configuration: The 'hpt' feature is not supported for architecture 'x86_64' or machine type 'pc-q35-7.2'"},
		{"pfhtm", "<htm state='on'/>", "unsupported configuration: The 'htm' feature is not supported for architecture 'x86_64' or machine type 'pc-q35-7.2'"},
	} {
		xml := fwAuditXML(c.name, `<os>`+q35+`</os>`, c.features, "")
		got := defineResult(t, uri, c.name, xml, false)
		if !strings.Contains(got, c.want) {
			t.Errorf("%s: define: %q, want %q", c.name, got, c.want)
		}
		if withLibvirtd {
			if lv := defineResult(t, libvirtdURI, c.name, xml, false); lv != got {
				t.Errorf("%s: govirtd says %q, libvirtd %q", c.name, got, lv)
			}
		}
	}

	// <hyperv mode='passthrough'/> comes back open and closed, as
	// libvirt's formatter writes it, and virt-install's <hyperv> without
	// mode gets mode='custom'.
	for _, c := range []struct{ name, features, want string }{
		{"pfhvpt", "<hyperv mode='passthrough'/>", "<hyperv mode='passthrough'>\n    </hyperv>"},
		{"pfhvdef", "<hyperv><relaxed state='on'/></hyperv>", "<hyperv mode='custom'>\n      <relaxed state='on'/>\n    </hyperv>"},
	} {
		xml := fwAuditXML(c.name, `<os>`+q35+`</os>`, c.features, "")
		if msg := defineResult(t, uri, c.name, xml, true); msg != "" {
			t.Fatalf("%s: define: %s", c.name, msg)
		}
		got := mustVirsh(t, uri, "dumpxml --inactive "+c.name)
		mustVirsh(t, uri, "undefine "+c.name)
		if !strings.Contains(got, c.want) {
			t.Errorf("%s: dumpxml --inactive lacks %q:\n%s", c.name, c.want, got)
		}
		if withLibvirtd && defineResult(t, libvirtdURI, c.name, xml, true) == "" {
			lv, _, _ := virsh(t, libvirtdURI, "dumpxml", "--inactive", c.name)
			virsh(t, libvirtdURI, "undefine", c.name)
			if !strings.Contains(lv, c.want) {
				t.Errorf("%s: libvirtd's dumpxml lacks %q (the test's expectation is wrong):\n%s", c.name, c.want, lv)
			}
		}
	}

	// basis='localtime': the live XML counts from UTC (this host's zone
	// is added to the adjustment).
	xml := strings.Replace(fwAuditXML("pfclock", `<os>`+q35+`</os>`, "", ""), "<devices>",
		"<clock offset='variable' adjustment='3600' basis='localtime'/>\n  <devices>", 1)
	if msg := defineResult(t, uri, "pfclock", xml, true); msg != "" {
		t.Fatalf("define: %s", msg)
	}
	mustVirsh(t, uri, "start pfclock")
	_, off := time.Now().Zone()
	want := fmt.Sprintf("<clock offset='variable' adjustment='%d' basis='utc'/>", 3600+off)
	if live := mustVirsh(t, uri, "dumpxml pfclock"); !strings.Contains(live, want) {
		t.Errorf("live clock lacks %q:\n%s", want, live)
	}
	if in := mustVirsh(t, uri, "dumpxml --inactive pfclock"); !strings.Contains(in, "basis='localtime'") {
		t.Errorf("the persistent clock changed:\n%s", in)
	}
	mustVirsh(t, uri, "destroy pfclock")
	mustVirsh(t, uri, "undefine pfclock")

	// A TSC frequency far from the host's, on a host whose CPU does not
	// scale the TSC (skipped elsewhere: the message is the host's).
	xml = strings.Replace(fwAuditXML("pftsc", `<os>`+q35+`</os>`, "", ""), "<devices>",
		"<clock offset='utc'><timer name='tsc' frequency='1000000000'/></clock>\n  <devices>", 1)
	if msg := defineResult(t, uri, "pftsc", xml, true); msg != "" {
		t.Fatalf("define: %s", msg)
	}
	_, errOut, rc := virsh(t, uri, "start", "pftsc")
	if withLibvirtd {
		if msg := defineResult(t, libvirtdURI, "pftsc", xml, true); msg == "" {
			_, lerr, lrc := virsh(t, libvirtdURI, "start", "pftsc")
			virsh(t, libvirtdURI, "destroy", "pftsc")
			virsh(t, libvirtdURI, "undefine", "pftsc")
			if (rc == 0) != (lrc == 0) || lastLine(errOut) != lastLine(lerr) {
				t.Errorf("start with a TSC frequency: govirtd rc=%d %q, libvirtd rc=%d %q", rc, errOut, lrc, lerr)
			}
		}
	} else if rc != 0 && !strings.Contains(errOut, "Requested TSC frequency 1000000000 Hz is outside tolerance range") {
		t.Errorf("start: %s", errOut)
	}
	virsh(t, uri, "destroy", "pftsc")
	mustVirsh(t, uri, "undefine pftsc")
}
