package test

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"strings"

	"govirt/conf"
	"govirt/driver"
	"govirt/virerr"
)

// snapshot is one snapshot's metadata; the test driver has nothing else.
type snapshot struct {
	name, desc string
	parent     string // "" for a root
	created    int64
	state      driver.State // of the domain when taken
	dom        *conf.Domain // inactive copy of the domain's definition
}

// snapshotList keeps a domain's snapshots in creation order; trees are
// small, so children are found by scanning rather than kept in links.
type snapshotList struct {
	order   []*snapshot
	byName  map[string]*snapshot
	current string
}

func newSnapshotList() *snapshotList { return &snapshotList{byName: map[string]*snapshot{}} }

func (l *snapshotList) count() int { return len(l.order) }

func (l *snapshotList) add(s *snapshot) {
	l.order = append(l.order, s)
	l.byName[s.name] = s
}

func (l *snapshotList) remove(s *snapshot) {
	delete(l.byName, s.name)
	for i, x := range l.order {
		if x == s {
			l.order = append(l.order[:i], l.order[i+1:]...)
			break
		}
	}
}

func (l *snapshotList) children(name string) []*snapshot {
	var out []*snapshot
	for _, s := range l.order {
		if s.parent == name {
			out = append(out, s)
		}
	}
	return out
}

// descendants lists the whole subtree below name, parents before children.
func (l *snapshotList) descendants(name string) []*snapshot {
	var out []*snapshot
	for _, c := range l.children(name) {
		out = append(out, c)
		out = append(out, l.descendants(c.name)...)
	}
	return out
}

func (l *snapshotList) find(name string) (*snapshot, error) {
	if s := l.byName[name]; s != nil {
		return s, nil
	}
	return nil, errTest(virerr.ErrNoDomainSnapshot, "no domain snapshot with matching name '%s'", name)
}

// Snapshot listing flags (virDomainSnapshotListFlags).
const (
	snapListRoots      = 1 << 0 // DESCENDANTS when listing children
	snapListMetadata   = 1 << 1
	snapListLeaves     = 1 << 2
	snapListNoLeaves   = 1 << 3
	snapListNoMetadata = 1 << 4
	snapListInactive   = 1 << 5
	snapListActive     = 1 << 6
	snapListDiskOnly   = 1 << 7
	snapListInternal   = 1 << 8
	snapListExternal   = 1 << 9
)

// filter applies the flags other than roots/descendants.
func (l *snapshotList) filter(in []*snapshot, flags uint32) []*snapshot {
	out := in[:0:0]
	for _, s := range in {
		leaf := len(l.children(s.name)) == 0
		if f := flags & (snapListLeaves | snapListNoLeaves); f != 0 && f != snapListLeaves|snapListNoLeaves {
			if (f == snapListLeaves) != leaf {
				continue
			}
		}
		// Every snapshot here has metadata.
		if flags&(snapListMetadata|snapListNoMetadata) == snapListNoMetadata {
			continue
		}
		if f := flags & (snapListInactive | snapListActive | snapListDiskOnly); f != 0 {
			off := s.state == driver.StateShutoff
			if !(off && f&snapListInactive != 0 || !off && f&snapListActive != 0) {
				continue
			}
		}
		// ...and is internal.
		if flags&(snapListInternal|snapListExternal) == snapListExternal {
			continue
		}
		out = append(out, s)
	}
	return out
}

var snapshotStates = [...]string{"nostate", "running", "blocked", "paused", "shutdown", "shutoff", "crashed", "pmsuspended"}

// stateName is virDomainSnapshotStateTypeToString.
func stateName(s driver.State) string {
	if int(s) < len(snapshotStates) {
		return snapshotStates[s]
	}
	return "nostate"
}

// stateFromName reads a snapshot's <state>; a disk-only snapshot is
// treated as taken from a stopped domain.
func stateFromName(name string) driver.State {
	for i, n := range snapshotStates {
		if n == name {
			return driver.State(i)
		}
	}
	return driver.StateShutoff
}

// format writes the document the way virDomainSnapshotDefFormat does.
func (s *snapshot) format(flags conf.FormatFlags) (string, error) {
	var b strings.Builder
	esc := func(v string) string {
		var e bytes.Buffer
		_ = xml.EscapeText(&e, []byte(v))
		return e.String()
	}
	b.WriteString("<domainsnapshot>\n")
	fmt.Fprintf(&b, "  <name>%s</name>\n", esc(s.name))
	if s.desc != "" {
		fmt.Fprintf(&b, "  <description>%s</description>\n", esc(s.desc))
	}
	fmt.Fprintf(&b, "  <state>%s</state>\n", stateName(s.state))
	if s.parent != "" {
		fmt.Fprintf(&b, "  <parent>\n    <name>%s</name>\n  </parent>\n", esc(s.parent))
	}
	fmt.Fprintf(&b, "  <creationTime>%d</creationTime>\n", s.created)
	mem := "internal"
	if s.state == driver.StateShutoff {
		mem = "no"
	}
	fmt.Fprintf(&b, "  <memory snapshot='%s'/>\n", mem)
	if len(s.dom.Devices.Disks) > 0 {
		b.WriteString("  <disks>\n")
		for _, d := range s.dom.Devices.Disks {
			fmt.Fprintf(&b, "    <disk name='%s' snapshot='internal'/>\n", esc(d.TargetDev))
		}
		b.WriteString("  </disks>\n")
	}
	dom, err := s.dom.Format(flags | conf.FormatInactive)
	if err != nil {
		return "", err
	}
	for _, line := range strings.SplitAfter(strings.TrimRight(string(dom), "\n"), "\n") {
		b.WriteString("  " + line)
	}
	b.WriteString("\n</domainsnapshot>\n")
	return b.String(), nil
}
