package qemu

import (
	"bufio"
	"os"
	"strconv"
	"strings"
)

// monitorFD is the descriptor number the monitor's listening socket has in
// QEMU: the first of exec.Cmd's ExtraFiles.
const monitorFD = 3

// pidsUsing finds the processes serving a guest's monitor socket: those
// holding the socket bound at path (QEMU given the socket as fd=N), and
// those whose command line names path (QEMU that bound it itself).
func pidsUsing(path string) []int {
	inodes := socketInodes(path)
	var out []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		if cmdline, err := os.ReadFile("/proc/" + e.Name() + "/cmdline"); err == nil && strings.Contains(string(cmdline), path) {
			out = append(out, pid)
			continue
		}
		if len(inodes) > 0 && holdsSocket(pid, inodes) {
			out = append(out, pid)
		}
	}
	return out
}

// socketInodes reads from /proc/net/unix the inodes of the unix sockets
// bound at path. There is more than the listening one: the connection a
// QEMU accepted on its monitor is listed under the same path (and first),
// and may already be closed by a QEMU whose daemon died; looking at that
// one alone found no process and left the QEMU of a half-started guest
// running after a restart.
func socketInodes(path string) map[string]bool {
	f, err := os.Open("/proc/net/unix")
	if err != nil {
		return nil
	}
	defer f.Close()
	out := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// Num RefCount Protocol Flags Type St Inode Path
		fs := strings.Fields(sc.Text())
		if len(fs) == 8 && fs[7] == path {
			out["socket:["+fs[6]+"]"] = true
		}
	}
	return out
}

func holdsSocket(pid int, inodes map[string]bool) bool {
	dir := "/proc/" + strconv.Itoa(pid) + "/fd/"
	fds, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	for _, fd := range fds {
		if l, err := os.Readlink(dir + fd.Name()); err == nil && inodes[l] {
			return true
		}
	}
	return false
}
