package integration

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// blockNodes lists the node names QEMU has (query-named-block-nodes).
func blockNodes(t *testing.T, uri, dom string) []string {
	t.Helper()
	out := mustVirsh(t, uri, `qemu-monitor-command `+dom+` '{"execute":"query-named-block-nodes","arguments":{"flat":true}}'`)
	var r struct {
		Return []struct {
			Node string `json:"node-name"`
			File string `json:"file"`
		} `json:"return"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	var n []string
	for _, x := range r.Return {
		n = append(n, x.Node+"="+filepath.Base(x.File))
	}
	sort.Strings(n)
	return n
}

// TestQEMUSnapshotDeleteLayouts: external disk snapshots of a running
// guest deleted in the orders that used to break. An inner commit
// (deleting the older of two) left the merged overlay's nodes in QEMU,
// so the next snapshot failed in blockdev-snapshot ("is used as backing
// hd"); the persistent definition kept the live chain's detected
// <backingStore/> after a commit; and a transient guest's snapshot
// metadata outlived it, so a new guest of that name inherited snapshots
// whose overlays were gone ("could not find base disk source in disk
// source chain"), as did one of a guest undefined with
// --snapshots-metadata, which kept them. libvirtd 9.0 gives the same
// chains, indexes and persistent XML for these sequences.
func TestQEMUSnapshotDeleteLayouts(t *testing.T) {
	needQEMU(t)
	d := startClientsDaemon(t)
	uri := d.URI("qemu")
	dir := t.TempDir()
	base := filepath.Join(dir, "lay.qcow2")
	qemuImg(t, "create", "-f", "qcow2", base, "64M")
	defineDiskGuest(t, d, "lay", base, "qcow2")
	mustVirsh(t, uri, "start lay")
	overlay := func(s string) string { return strings.TrimSuffix(base, ".qcow2") + "." + s }

	mustVirsh(t, uri, "snapshot-create-as lay s1 --disk-only")
	mustVirsh(t, uri, "snapshot-create-as lay s2 --disk-only")
	mustVirsh(t, uri, "snapshot-delete lay s1") // inner commit
	if n := strings.Join(blockNodes(t, uri, "lay"), " "); strings.Contains(n, "lay.s1") {
		t.Errorf("merged overlay still plugged: %s", n)
	}
	mustNotExist(t, overlay("s1"))
	mustVirsh(t, uri, "snapshot-create-as lay s3 --disk-only")
	mustVirsh(t, uri, "snapshot-delete lay s3") // active commit
	mustVirsh(t, uri, "snapshot-delete lay s2")
	if n := strings.Join(blockNodes(t, uri, "lay"), " "); n != "libvirt-1-format=lay.qcow2 libvirt-1-storage=lay.qcow2" {
		t.Errorf("nodes after merging everything: %s", n)
	}
	if c := liveChain(t, d, "lay", "vda"); len(c) != 1 || c[0].Path != base || c[0].Index != 1 {
		t.Errorf("live chain %v", c)
	}
	inactive := mustVirsh(t, uri, "dumpxml --inactive lay")
	if strings.Contains(inactive, "<backingStore") {
		t.Errorf("persistent definition keeps a chain:\n%s", inactive)
	}
	if s := snapNames(t, uri, "lay"); s != "" {
		t.Errorf("snapshots left: %q", s)
	}
	mustVirsh(t, uri, "destroy lay")

	// A transient guest's snapshots go with it.
	xmlPath := filepath.Join(dir, "tr.xml")
	doc := strings.Replace(mustVirsh(t, uri, "dumpxml --inactive lay"), "<name>lay</name>", "<name>tr</name>", 1)
	doc = strings.Replace(doc, "<uuid>", "<!--", 1)
	doc = strings.Replace(doc, "</uuid>", "-->", 1)
	if err := os.WriteFile(xmlPath, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	// A shut-off guest with snapshots is undefined only with their
	// metadata (qemuDomainUndefineFlags); a new guest of the name then
	// starts without them.
	mustVirsh(t, uri, "snapshot-create-as lay off1 --disk-only")
	wantErr(t, uri, "undefine lay", "Requested operation is not valid: cannot delete inactive domain with 1 snapshots")
	mustVirsh(t, uri, "undefine lay --snapshots-metadata")
	os.Remove(overlay("off1"))
	mustVirsh(t, uri, "create "+xmlPath)
	mustVirsh(t, uri, "snapshot-create-as tr t1 --disk-only")
	mustVirsh(t, uri, "destroy tr")
	qemuImg(t, "create", "-f", "qcow2", base, "64M")
	os.Remove(overlay("t1")) // the images stay, as with libvirt
	mustVirsh(t, uri, "create "+xmlPath)
	if s := snapNames(t, uri, "tr"); s != "" {
		t.Errorf("a new transient guest inherited snapshots %q", s)
	}
	mustVirsh(t, uri, "snapshot-create-as tr t1 --disk-only")
	mustVirsh(t, uri, "snapshot-delete tr t1")
	mustVirsh(t, uri, "destroy tr")
}
