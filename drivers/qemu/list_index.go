package qemu

import (
	"maps"
	"os"
	"strings"
	"sync"
	"time"
)

// saveIndex tells listings which guests have a managed save image
// without a stat per guest (1,000 stats were most of the CPU of a
// CONNECT_LIST_ALL_DOMAINS). The save directory itself stays the truth:
// its entries are re-read whenever its mtime changes, and also while that
// mtime is recent, since a coarse filesystem clock could give two quick
// changes the same stamp.
type saveIndex struct {
	mu     sync.Mutex
	mtime  time.Time
	stable bool // mtime was over saveIndexSettle old when names were read
	names  *saveSet
}

// saveSet is the guest names with NAME.save in the save directory. A set
// is never modified: a change to the directory makes a new one.
type saveSet struct{ names map[string]bool }

func (s *saveSet) has(name string) bool { return s != nil && s.names[name] }

const saveIndexSettle = time.Second

// managedSaves returns the guests with a managed save image; while the
// directory does not change it returns the same set.
func (d *Driver) managedSaves() *saveSet {
	ix := &d.lists.saves
	ix.mu.Lock()
	defer ix.mu.Unlock()
	now := time.Now()
	fi, err := os.Stat(d.dirs.save)
	if err != nil {
		ix.names, ix.stable = nil, false
		return nil
	}
	if ix.stable && fi.ModTime().Equal(ix.mtime) {
		return ix.names
	}
	ents, err := os.ReadDir(d.dirs.save)
	if err != nil {
		ix.names, ix.stable = nil, false
		return nil
	}
	names := make(map[string]bool, len(ents))
	for _, e := range ents {
		if n, ok := strings.CutSuffix(e.Name(), ".save"); ok && !e.IsDir() {
			names[n] = true
		}
	}
	// An unchanged content keeps the old set, and with it the listing
	// snapshot built on it.
	if ix.names == nil || !maps.Equal(ix.names.names, names) {
		ix.names = &saveSet{names}
	}
	ix.mtime = fi.ModTime()
	ix.stable = now.Sub(fi.ModTime()) > saveIndexSettle
	return ix.names
}
