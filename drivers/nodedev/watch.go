package nodedev

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Node device events. libvirtd hears of devices that come, change and go
// from udevd (which re-broadcasts the kernel's uevents once its rules
// ran); govirt listens to the kernel's uevents itself
// (NETLINK_KOBJECT_UEVENT) and, after a burst of them has settled,
// compares a fresh scan with the last one: a new device is CREATED, a
// vanished one DELETED, and one an "add" or "change" uevent names that
// was there already gets an update event, as udevAddOneDevice and
// udevRemoveOneDevice report them.

// Event is one node device event.
type Event struct {
	Name   string
	Update bool
	Event  int32 // 0 created, 1 deleted (VIR_NODE_DEVICE_EVENT_*)
}

// uevent is one kernel message: "ACTION@DEVPATH\0KEY=VALUE\0...".
type uevent struct {
	action, devpath string
}

// parseUevent reads a kernel uevent; udevd's own messages (which start
// with "libudev") and anything malformed are not ones.
func parseUevent(msg []byte) (uevent, bool) {
	head, rest, _ := bytes.Cut(msg, []byte{0})
	action, devpath, ok := strings.Cut(string(head), "@")
	if !ok || action == "" || !strings.HasPrefix(devpath, "/") {
		return uevent{}, false
	}
	u := uevent{action: action, devpath: devpath}
	for _, kv := range bytes.Split(rest, []byte{0}) {
		k, v, ok := strings.Cut(string(kv), "=")
		if !ok {
			continue
		}
		switch {
		case k == "ACTION" && v != "":
			u.action = v
		case k == "DEVPATH" && strings.HasPrefix(v, "/"):
			u.devpath = v
		}
	}
	return u, true
}

// snapshot maps the devices of a scan by name to their sysfs paths.
func (m *Manager) snapshot() map[string]string {
	out := map[string]string{}
	for _, d := range m.fresh() {
		out[d.Name] = d.Path
	}
	return out
}

// diff turns two scans and the uevents between them into events, in a
// stable order: deletions, creations, then updates.
func diff(prev, cur map[string]string, evs []uevent) []Event {
	var out []Event
	for _, n := range sortedKeys(prev) {
		if _, ok := cur[n]; !ok {
			out = append(out, Event{Name: n, Event: 1})
		}
	}
	for _, n := range sortedKeys(cur) {
		if _, ok := prev[n]; !ok {
			out = append(out, Event{Name: n, Event: 0})
		}
	}
	byPath := map[string]string{}
	for n, p := range cur {
		if _, old := prev[n]; old && p != "" {
			byPath[p] = n
		}
	}
	seen := map[string]bool{}
	for _, u := range evs {
		if u.action != "add" && u.action != "change" && u.action != "move" {
			continue
		}
		if n, ok := byPath["/sys"+u.devpath]; ok && !seen[n] {
			seen[n] = true
			out = append(out, Event{Name: n, Update: true})
		}
	}
	return out
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return sorted(out)
}

func sorted(s []string) []string {
	out := append([]string{}, s...)
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j] < out[j-1]; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// settle is how long the uevents of one change (a NIC brings its net
// interface, a disk its partitions) are gathered before a scan.
const settle = 200 * time.Millisecond

// Watch listens for the kernel's uevents until ctx ends and calls
// publish with each node device event while at least one registration
// holds the events on (Hold); without one, a uevent costs one read and
// no scan, so an idle daemon on a busy host (every tap and every VM any
// process creates sends some) stays asleep. It returns an error when the
// netlink socket cannot be opened (no events then, as before).
func (m *Manager) Watch(ctx context.Context, publish func(Event)) error {
	fd, err := syscall.Socket(syscall.AF_NETLINK, syscall.SOCK_DGRAM|syscall.SOCK_CLOEXEC|syscall.SOCK_NONBLOCK, syscall.NETLINK_KOBJECT_UEVENT)
	if err != nil {
		return err
	}
	if err := syscall.Bind(fd, &syscall.SockaddrNetlink{Family: syscall.AF_NETLINK, Groups: 1}); err != nil {
		syscall.Close(fd)
		return err
	}
	// The socket waits in the runtime's poller: an idle host costs no
	// wakeups. A read deadline marks a settled burst; closing the file
	// when ctx ends stops the loop.
	f := os.NewFile(uintptr(fd), "uevent")
	go func() {
		<-ctx.Done()
		f.Close()
	}()
	go func() {
		var pending []uevent
		var first time.Time
		buf := make([]byte, 64<<10)
		for ctx.Err() == nil {
			n, err := f.Read(buf)
			if err == nil && n > 0 {
				if !m.watched() {
					// Nobody listens: a uevent is read and dropped,
					// without a deadline or a scan.
					pending = nil
					continue
				}
				if u, ok := parseUevent(buf[:n]); ok && len(pending) < 4096 {
					if len(pending) == 0 {
						first = time.Now()
						f.SetReadDeadline(time.Now().Add(settle))
					}
					pending = append(pending, u)
				}
				// On a host that never goes quiet, scan at least
				// every few bursts' worth of time.
				if len(pending) == 0 || time.Since(first) < 5*settle {
					if len(pending) > 0 {
						f.SetReadDeadline(time.Now().Add(settle))
					}
					continue
				}
			} else if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
				if ctx.Err() != nil || errors.Is(err, os.ErrClosed) {
					return
				}
				continue
			}
			if len(pending) == 0 {
				continue
			}
			// The deadline passed after some uevents: the burst has
			// settled. Wait without one until the next.
			f.SetReadDeadline(time.Time{})
			m.settled(pending, publish)
			pending = nil
		}
	}()
	return nil
}

// burstNeedsScan says whether a settled burst of uevents can have changed
// the device list. Only add, remove and move do (as for libvirt, which
// ignores bind, unbind, online and offline); a change of a device already
// listed is an update event the last scan answers, and a change of one
// libvirt discards (the kvm misc device changes each time any process
// creates or closes a VM, an unlisted loop device each time it is set up
// or cleared) is nothing; only a change of a device that would be listed
// but is not in the last scan needs one. Skipping the full sysfs walk for those keeps a host where
// other programs start QEMUs from waking an idle daemon into a scan.
func (m *Manager) burstNeedsScan(prev map[string]string, evs []uevent) bool {
	known := make(map[string]bool, len(prev))
	for _, p := range prev {
		if p != "" {
			known[p] = true
		}
	}
	for _, u := range evs {
		switch u.action {
		case "add", "remove", "move":
			return true
		case "change":
			p := "/sys" + u.devpath
			if known[p] {
				continue
			}
			ud, ok := m.fs.loadDevice(p)
			if !ok || ignoredSubsystems[ud.subsystem] {
				continue
			}
			if _, listed := m.addOne(ud); listed {
				return true
			}
		}
	}
	return false
}

// Hold turns node device events on until the returned func is called;
// the first holder takes the scan later bursts are compared with, so
// every change after its registration is reported.
func (m *Manager) Hold() (release func()) {
	m.watchMu.Lock()
	if m.watchers == 0 {
		m.watchPrev = m.snapshot()
	}
	m.watchers++
	m.watchMu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			m.watchMu.Lock()
			m.watchers--
			if m.watchers == 0 {
				m.watchPrev = nil
			}
			m.watchMu.Unlock()
		})
	}
}

func (m *Manager) watched() bool {
	m.watchMu.Lock()
	defer m.watchMu.Unlock()
	return m.watchers > 0
}

// settled turns a settled burst into events for the holders, scanning
// only when the burst can have changed the list.
func (m *Manager) settled(pending []uevent, publish func(Event)) {
	m.watchMu.Lock()
	defer m.watchMu.Unlock()
	if m.watchers == 0 {
		return
	}
	prev := m.watchPrev
	cur := prev
	if m.burstNeedsScan(prev, pending) {
		cur = m.snapshot()
	}
	for _, e := range diff(prev, cur, pending) {
		publish(e)
	}
	m.watchPrev = cur
}
