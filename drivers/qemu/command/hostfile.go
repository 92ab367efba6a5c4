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
	fail := func(err error) ([]*os.File, error) {
		for _, f := range out {
			f.Close()
		}
		return nil, err
	}
	for i, hf := range files {
		if hf.FD != first+i {
			return fail(fmt.Errorf("descriptor %d of %s is out of order", hf.FD, hf.Path))
		}
		switch hf.Kind {
		case FileAppend, FileTruncate:
			flags := os.O_CREATE | os.O_WRONLY
			if hf.Kind == FileAppend {
				flags |= os.O_APPEND
			} else {
				flags |= os.O_TRUNC
			}
			f, err := os.OpenFile(hf.Path, flags, 0o600)
			if err != nil {
				return fail(err)
			}
			out = append(out, f)
		case FileFlags:
			f, err := os.OpenFile(hf.Path, hf.Flag, 0)
			if err != nil {
				return fail(err)
			}
			out = append(out, f)
		case UnixListen:
			os.Remove(hf.Path)
			l, err := net.ListenUnix("unix", &net.UnixAddr{Name: hf.Path, Net: "unix"})
			if err != nil {
				return fail(err)
			}
			// The socket file stays when QEMU closes it, as with libvirt.
			l.SetUnlinkOnClose(false)
			f, err := l.File()
			l.Close()
			if err != nil {
				return fail(err)
			}
			out = append(out, f)
		default:
			return fail(fmt.Errorf("unknown host file kind %d", hf.Kind))
		}
	}
	return out, nil
}
