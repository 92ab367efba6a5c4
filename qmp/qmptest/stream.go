package qmptest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
)

// received is a chunk of descriptors and the stream offset of the last
// byte read with them.
type received struct {
	end   int
	files []*os.File
}

// readLoop parses commands from the stream. Descriptors are matched to
// the first command ending at or after the read that carried them: Linux
// ends a read at the end of a message that carried SCM_RIGHTS, and the
// client sends descriptors with the command that uses them.
func (s *Server) readLoop(conn *net.UnixConn) {
	var (
		buf     []byte
		base    int // stream offset of buf[0]
		fdq     []received
		chunk   = make([]byte, 64<<10)
		oob     = make([]byte, 4096)
		pending int // parse position within buf
	)
	defer func() {
		for _, r := range fdq {
			closeAll(r.files)
		}
	}()
	for {
		n, oobn, _, _, err := conn.ReadMsgUnix(chunk, oob)
		// On error the counts can be the raw syscall's -1.
		n, oobn = max(n, 0), max(oobn, 0)
		buf = append(buf, chunk[:n]...)
		if oobn > 0 {
			if files := parseRights(oob[:oobn]); len(files) > 0 {
				fdq = append(fdq, received{end: base + len(buf), files: files})
			}
		}
		for {
			rest := bytes.TrimLeft(buf[pending:], " \t\r\n")
			if len(rest) == 0 {
				break
			}
			skipped := len(buf[pending:]) - len(rest)
			dec := json.NewDecoder(bytes.NewReader(rest))
			var raw json.RawMessage
			if derr := dec.Decode(&raw); derr != nil {
				if errors.Is(derr, io.ErrUnexpectedEOF) || errors.Is(derr, io.EOF) {
					break
				}
				s.t.Errorf("qmptest: client sent invalid JSON: %v", derr)
				return
			}
			pending += skipped + int(dec.InputOffset())
			// A read carrying descriptors ends where the sender's
			// message ended, usually after the command's newline.
			end := base + pending + len(buf[pending:]) - len(bytes.TrimLeft(buf[pending:], " \t\r\n"))
			var files []*os.File
			for len(fdq) > 0 && fdq[0].end <= end {
				files = append(files, fdq[0].files...)
				fdq = fdq[1:]
			}
			s.handle(raw, files)
		}
		base += pending
		buf = append(buf[:0], buf[pending:]...)
		pending = 0
		if err != nil {
			return
		}
	}
}

// parseRights turns SCM_RIGHTS control messages into files.
func parseRights(oob []byte) []*os.File {
	msgs, err := syscall.ParseSocketControlMessage(oob)
	if err != nil {
		return nil
	}
	var files []*os.File
	for i := range msgs {
		fds, err := syscall.ParseUnixRights(&msgs[i])
		if err != nil {
			continue
		}
		for _, fd := range fds {
			files = append(files, os.NewFile(uintptr(fd), fmt.Sprintf("qmptest-fd-%d", fd)))
		}
	}
	return files
}

func closeAll(files []*os.File) {
	for _, f := range files {
		f.Close()
	}
}
