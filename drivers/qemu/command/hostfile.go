package command

import (
	"fmt"
	"net"
	"os"
)

// OpenHostFiles opens the files and sockets the command line hands QEMU
// by descriptor (chardev files and logs in fd sets, listening chardev
// sockets), as libvirt's qemuProcessPrepareHostBackendChardev: the daemon
// creates them, so QEMU never needs the right to. first is the descriptor
// QEMU gets for the first of them; they must be numbered one by one from
// there, as exec.Cmd's ExtraFiles are. The caller closes the result.
func OpenHostFiles(files []HostFile, first int) ([]*os.File, error) {
	var out []*os.File
	for i, hf := range files {
		var err error
		var f *os.File
		if hf.FD != first+i {
			err = fmt.Errorf("descriptor %d of %s is out of order", hf.FD, hf.Path)
		} else {
			f, err = OpenHostFile(hf)
		}
		if err != nil {
			for _, f := range out {
				f.Close()
			}
			return nil, err
		}
		out = append(out, f)
	}
	return out, nil
}

// OpenHostFile opens one HostFile the way its Kind says.
func OpenHostFile(hf HostFile) (*os.File, error) {
	switch hf.Kind {
	case FileAppend, FileTruncate:
		flags := os.O_CREATE | os.O_WRONLY
		if hf.Kind == FileAppend {
			flags |= os.O_APPEND
		} else {
			flags |= os.O_TRUNC
		}
		return os.OpenFile(hf.Path, flags, 0o600)
	case FileFlags:
		return os.OpenFile(hf.Path, hf.Flag, 0)
	case UnixListen:
		os.Remove(hf.Path)
		l, err := net.ListenUnix("unix", &net.UnixAddr{Name: hf.Path, Net: "unix"})
		if err != nil {
			return nil, err
		}
		// The socket file stays when QEMU closes it, as with libvirt.
		l.SetUnlinkOnClose(false)
		f, err := l.File()
		l.Close()
		return f, err
	}
	return nil, fmt.Errorf("unknown host file kind %d", hf.Kind)
}
