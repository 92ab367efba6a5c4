package procs

import "testing"

func TestNames(t *testing.T) {
	if ConnectOpen != 1 || ConnectClose != 2 || ConnectSupportsFeature != 60 || AuthList != 66 {
		t.Fatal("wrong numbers")
	}
	if Name(ConnectListAllDomains) != "REMOTE_PROC_CONNECT_LIST_ALL_DOMAINS" || Name(0) != "" || Name(Max+1) != "" || Name(-1) != "" {
		t.Fatal("wrong names")
	}
	for i := int32(1); i <= Max; i++ {
		if Name(i) == "" {
			t.Fatalf("gap at %d", i)
		}
	}
}

func TestLookup(t *testing.T) {
	i := Lookup(ProgramRemote, DomainGetXMLDesc)
	if i == nil || i.API != "virDomainGetXMLDesc" || i.Args != "DomainGetXMLDescArgs" || i.Ret != "DomainGetXMLDescRet" {
		t.Fatalf("GET_XML_DESC: %+v", i)
	}
	if len(i.ReadOnly) != 1 || i.ReadOnly[0].Kind != ROSecure || i.ReadOnly[0].Value != 9 || i.ReadOnly[0].Arg != "Flags" ||
		i.ReadOnly[0].Message != "virDomainGetXMLDesc with secure flag" {
		t.Errorf("GET_XML_DESC read-only rule: %+v", i.ReadOnly)
	}
	found := false
	for _, a := range i.ACL {
		found = found || a == "domain:read_secure:VIR_DOMAIN_XML_SECURE"
	}
	if !found {
		t.Errorf("GET_XML_DESC ACL: %v", i.ACL)
	}
	if i := Lookup(ProgramRemote, DomainDestroy); !i.High || len(i.ReadOnly) != 1 || i.ReadOnly[0].Kind != ROAlways {
		t.Errorf("DESTROY: %+v", i)
	}
	if i := Lookup(ProgramRemote, DomainGetInfo); i.High || i.ReadOnly != nil {
		t.Errorf("GET_INFO: %+v", i)
	}
	if i := Lookup(ProgramRemote, StorageVolUpload); i.WriteStream == "" || i.SparseFlag == "" {
		t.Errorf("VOL_UPLOAD streams: %+v", i)
	}
	if i := Lookup(ProgramRemote, DomainFdAssociate); i.API != "virDomainFDAssociate" {
		t.Errorf("API spelling from libvirt's symbols: %s", i.API)
	}
	if i := Lookup(ProgramQemu, QemuDomainMonitorCommand); i.API != "virDomainQemuMonitorCommand" || i.ReadOnly[0].Kind != ROAlways {
		t.Errorf("QEMU monitor command: %+v", i)
	}
	if i := Lookup(ProgramAdmin, AdminServerGetThreadpoolParameters); i.API != "virAdmServerGetThreadPoolParameters" {
		t.Errorf("admin: %+v", i)
	}
	if Lookup(ProgramKeepalive, KeepalivePing).Name != "KEEPALIVE_PROC_PING" || NameOf(ProgramLxc, LxcDomainOpenNamespace) != "LXC_PROC_DOMAIN_OPEN_NAMESPACE" {
		t.Error("keepalive or LXC names")
	}
	for _, bad := range []struct {
		prog uint32
		proc int32
	}{{ProgramRemote, 0}, {ProgramRemote, -1}, {ProgramRemote, Max + 1}, {0x1234, 1}} {
		if Lookup(bad.prog, bad.proc) != nil || NameOf(bad.prog, bad.proc) != "" {
			t.Errorf("Lookup(%#x, %d) found something", bad.prog, bad.proc)
		}
	}
}
