package qemu

import (
	"testing"

	"govirt/conf"
	"govirt/driver"
	"govirt/virerr"
)

func TestCopyDisks(t *testing.T) {
	def := &conf.Domain{}
	def.Devices.Disks = []*conf.Disk{
		{TargetDev: "vda", Source: conf.DiskSource{Type: "file", Path: "/a"}},
		{TargetDev: "vdb", ReadOnly: true, Source: conf.DiskSource{Type: "file", Path: "/b"}},
		{TargetDev: "vdc", Shareable: true, Source: conf.DiskSource{Type: "file", Path: "/c"}},
		{TargetDev: "sda", Device: "cdrom", Source: conf.DiskSource{Type: "file"}},
		{TargetDev: "vdd", Source: conf.DiskSource{Type: "file", Path: "/d"}},
	}
	targets := func(params []driver.TypedParam) []string {
		l, err := copyDisks(def, params)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, d := range l {
			out = append(out, d.TargetDev)
		}
		return out
	}
	if got := targets(nil); len(got) != 2 || got[0] != "vda" || got[1] != "vdd" {
		t.Errorf("default selection: %v", got)
	}
	sel := []driver.TypedParam{{Field: migParamMigrateDisks, Value: "vdb"}, {Field: migParamMigrateDisks, Value: "vdd"}}
	if got := targets(sel); len(got) != 2 || got[0] != "vdb" || got[1] != "vdd" {
		t.Errorf("--migrate-disks vdb,vdd: %v", got)
	}
	_, err := copyDisks(def, []driver.TypedParam{{Field: migParamMigrateDisks, Value: "vdz"}})
	if virerr.CodeOf(err) != virerr.ErrInvalidArg {
		t.Errorf("unknown disk: %v", err)
	}
}

func TestCookieNBD(t *testing.T) {
	d := &Driver{}
	v := newVM(&conf.Domain{Name: "g"}, false)
	b := d.makeCookieNBD(v, "", &cookieNBD{Port: 49153, Disks: []cookieNBDDisk{{Target: "vda", Capacity: 1 << 26}}})
	ck, err := parseCookie(b)
	if err != nil {
		t.Fatal(err)
	}
	if ck.NBD == nil || ck.NBD.Port != 49153 || len(ck.NBD.Disks) != 1 || ck.NBD.Disks[0] != (cookieNBDDisk{"vda", 1 << 26}) {
		t.Errorf("cookie %s: %+v", b, ck.NBD)
	}
	if ck, _ := parseCookie(d.makeCookie(v, "")); ck.NBD != nil {
		t.Errorf("cookie without storage migration has <nbd>")
	}
}
