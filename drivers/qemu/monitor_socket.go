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
	inode := socketInode(path)
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
		if inode != "" && holdsSocket(pid, inode) {
			out = append(out, pid)
		}
	}
	return out
}

// socketInode reads the inode of the listening unix socket bound at path
// from /proc/net/unix ("" when none is).
func socketInode(path string) string {
	f, err := os.Open("/proc/net/unix")
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// Num RefCount Protocol Flags Type St Inode Path
		fs := strings.Fields(sc.Text())
		if len(fs) == 8 && fs[7] == path {
			return fs[6]
		}
	}
	return ""
}

func holdsSocket(pid int, inode string) bool {
	dir := "/proc/" + strconv.Itoa(pid) + "/fd/"
	fds, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	want := "socket:[" + inode + "]"
	for _, fd := range fds {
		if l, err := os.Readlink(dir + fd.Name()); err == nil && l == want {
			return true
		}
	}
	return false
}
