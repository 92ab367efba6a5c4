package qemu

import (
	"os"
	"path/filepath"
	"reflect"
	"syscall"
	"testing"
)

// TestNSLabels: with a private /dev, a device node's label is only
// collected (for QEMU's copy), with symlinks followed; other files are
// labelled on the host unless only collecting; copies take the owners.
func TestNSLabels(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to chown")
	}
	dir := t.TempDir()
	f := filepath.Join(dir, "img")
	os.WriteFile(f, nil, 0o600)
	link := filepath.Join(dir, "null-link")
	os.Symlink("/dev/null", link)
	n := &nsLabels{owners: map[string]devOwner{}}
	if err := n.own(link, 4242, 4343, false); err != nil {
		t.Fatal(err)
	}
	if err := n.own(f, 4242, 4343, false); err != nil {
		t.Fatal(err)
	}
	if want := map[string]devOwner{"/dev/null": {4242, 4343}}; !reflect.DeepEqual(n.owners, want) {
		t.Errorf("collected %v, want %v", n.owners, want)
	}
	st, null := statOwner(t, f), statOwner(t, "/dev/null")
	if st != [2]uint32{4242, 4343} {
		t.Errorf("the regular file was not labelled: %v", st)
	}
	if null == [2]uint32{4242, 4343} {
		t.Fatal("the host's /dev/null was labelled")
	}
	only := &nsLabels{owners: map[string]devOwner{}, only: true}
	g := filepath.Join(dir, "other")
	os.WriteFile(g, nil, 0o600)
	if err := only.own(g, 4242, 4343, false); err != nil || statOwner(t, g) != [2]uint32{0, 0} {
		t.Errorf("collect-only labelled a file: %v", err)
	}
	if devTarget(f) != "" || devTarget("/dev/null") != "/dev/null" || devTarget(filepath.Join(dir, "missing")) != "" {
		t.Errorf("devTarget: %q %q", devTarget(f), devTarget("/dev/null"))
	}
	nodes := []nsNode{{path: "/dev/null", mode: 0o20666, uid: 0, gid: 0}, {path: "/dev/zero", mode: 0o20666}}
	setNodeOwners(nodes, n.owners)
	if nodes[0].uid != 4242 || nodes[0].gid != 4343 || nodes[1].uid != 0 {
		t.Errorf("copies' owners: %+v", nodes)
	}
}

func statOwner(t *testing.T, p string) [2]uint32 {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Stat(p, &st); err != nil {
		t.Fatal(err)
	}
	return [2]uint32{st.Uid, st.Gid}
}
