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
