package qemu

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"govirt/conf"
)

func seclabelDomain(t *testing.T, extra string) *conf.Domain {
	t.Helper()
	def, err := conf.ParseDomain([]byte(`<domain type='qemu'><name>s</name><memory>65536</memory>
<os><type>hvm</type></os>`+extra+`<devices>
<disk type='file' device='disk'><source file='/i/top.qcow2'><seclabel model='dac' relabel='no'/></source>
<backingStore type='file'><format type='qcow2'/><source file='/i/base.qcow2'><seclabel model='dac'><label>+5:+6</label></seclabel></source><backingStore/></backingStore>
<target dev='vda' bus='virtio'/></disk></devices></domain>`), 0)
	if err != nil {
		t.Fatal(err)
	}
	return def
}

// TestGuestSeclabel: libvirt's DAC seclabel rules and the label shown in
// a running guest's XML.
func TestGuestSeclabel(t *testing.T) {
	s := secDriver{enabled: true, uid: 107, gid: 108, groups: []int{108}, dynamic: true}
	cases := []struct {
		xml, live, err string
		relabel        bool
		uid            int
	}{
		{"", `<seclabel type='dynamic' model='dac' relabel='yes'><label>+107:+108</label><imagelabel>+107:+108</imagelabel></seclabel>`, "", true, 107},
		{`<seclabel type='none' model='dac'/>`, `<seclabel type='none' model='dac'/>`, "", false, 107},
		{`<seclabel type='static' model='dac'><label>+7:+9</label></seclabel>`, `<seclabel type='static' model='dac' relabel='no'><label>+7:+9</label></seclabel>`, "", false, 7},
		{`<seclabel type='static' model='dac' relabel='yes'><label>+7:+9</label></seclabel>`, `<seclabel type='static' model='dac' relabel='yes'><label>+7:+9</label><imagelabel>+7:+9</imagelabel></seclabel>`, "", true, 7},
		{`<seclabel type='dynamic' model='dac' relabel='no'/>`, "", "dynamic label type must use resource relabeling", false, 0},
		{`<seclabel type='static' model='dac'/>`, "", "security label is missing", false, 0},
		{`<seclabel type='dynamic' model='selinux'/>`, "", "Security driver model 'selinux' is not available", false, 0},
	}
	for _, c := range cases {
		g, err := parseGuestSeclabel(seclabelDomain(t, c.xml))
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: error %v, want %q", c.xml, err, c.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.xml, err)
			continue
		}
		if got := string(s.liveSeclabel(g)); got != c.live {
			t.Errorf("%s: live\n%s\nwant\n%s", c.xml, got, c.live)
		}
		if g.relabel != c.relabel || s.dacActive(g) != c.relabel {
			t.Errorf("%s: relabel %v", c.xml, g.relabel)
		}
		if cred := s.credFor(g); cred.uid != c.uid {
			t.Errorf("%s: QEMU uid %d, want %d", c.xml, cred.uid, c.uid)
		}
	}
	noDyn := s
	noDyn.dynamic = false
	g, _ := parseGuestSeclabel(seclabelDomain(t, ""))
	if noDyn.dacActive(g) {
		t.Error("dynamic_ownership = 0 still relabels")
	}
	if (&secDriver{}).credFor(g) != nil {
		t.Error("no user configured, yet QEMU changes identity")
	}
	// Per-image labels: the top says relabel='no', the backing image
	// names its own owner.
	l := diskSeclabels(seclabelDomain(t, "").Devices.Disks[0])
	if len(l) < 2 || !l[0].present || l[0].relabel || !l[1].set || l[1].uid != 5 || l[1].gid != 6 {
		t.Errorf("image seclabels %+v", l)
	}
}

// TestRememberOwner: libvirt's xattr reference counting on a real file
// (trusted.* needs root and a file system that keeps them).
func TestRememberOwner(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("trusted xattrs need root")
	}
	p := filepath.Join(t.TempDir(), "img")
	os.WriteFile(p, nil, 0o600)
	os.Chown(p, 11, 12)
	if err := syscall.Setxattr(p, "trusted.govirt.probe", []byte("x"), 0); err != nil {
		t.Skip("no trusted xattrs here")
	}
	if err := setOwnership(p, 107, 107, true); err != nil { // the first guest
		t.Fatal(err)
	}
	if v, _ := getXattr(p, xattrOwner); v != "+11:+12" {
		t.Errorf("owner xattr %q", v)
	}
	if v, _ := getXattr(p, xattrStamp); v != bootTime() {
		t.Errorf("timestamp xattr %q", v)
	}
	if err := setOwnership(p, 107, 107, true); err != nil { // a second guest, same label
		t.Fatal(err)
	}
	if v, _ := getXattr(p, xattrRef); v != "2" {
		t.Errorf("refcount %q", v)
	}
	// A third guest with another label is refused and the count kept.
	if err := setOwnership(p, 5, 5, true); err == nil || !strings.Contains(err.Error(), "which is already in use") {
		t.Errorf("different label on a file in use: %v", err)
	}
	if v, _ := getXattr(p, xattrRef); v != "2" {
		t.Errorf("refcount after refusal %q", v)
	}
	if err := restoreOwnership(p, true); err != nil {
		t.Fatal(err)
	}
	var st syscall.Stat_t
	syscall.Stat(p, &st)
	if st.Uid != 107 {
		t.Errorf("restored while in use: uid %d", st.Uid)
	}
	if err := restoreOwnership(p, true); err != nil {
		t.Fatal(err)
	}
	syscall.Stat(p, &st)
	if st.Uid != 11 || st.Gid != 12 {
		t.Errorf("restored owner %d:%d", st.Uid, st.Gid)
	}
	if v, err := getXattr(p, xattrRef); err == nil {
		t.Errorf("refcount left: %q", v)
	}
	// A record from an earlier boot is stale: the owner is not restored.
	rememberOwner(p, 11, 12)
	syscall.Setxattr(p, xattrStamp, []byte("1"), 0)
	if _, _, _, err := recallOwner(p); !errors.Is(err, errNoXattr) {
		t.Errorf("stale record recalled: %v", err)
	}
}
