package qmp

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// lineReader splits QEMU's output into lines. QEMU terminates every
// message with "\r\n" and never embeds a raw newline inside one, so a line
// is a message. Lines are assembled without a fixed buffer limit (schema
// replies are megabytes) but bounded by max so garbage without newlines
// cannot exhaust memory.
type lineReader struct {
	r   *bufio.Reader
	max int
	buf []byte
}

// readBufSize is the reader's buffer: events and most replies fit, and a
// daemon with hundreds of guests keeps one per monitor, so it is small;
// longer lines (query-qmp-schema, big query-block replies) are assembled
// in buf, which is dropped again once it grew large.
const (
	readBufSize = 4 << 10
	keepBufSize = 64 << 10
)

func newLineReader(r io.Reader, max int) *lineReader {
	if max <= 0 {
		max = defaultMaxLineSize
	}
	return &lineReader{r: bufio.NewReaderSize(r, readBufSize), max: max}
}

// next returns the next non-blank line without its terminator. The slice
// is only valid until the following call.
func (l *lineReader) next() ([]byte, error) {
	for {
		// Don't pin a big buffer for the monitor's lifetime.
		if cap(l.buf) > keepBufSize {
			l.buf = nil
		}
		l.buf = l.buf[:0]
		chunk, err := l.r.ReadSlice('\n')
		if err == nil {
			// The common case: the whole line is in the reader's
			// buffer, valid until the next read, so no copy.
			if len(chunk) > l.max {
				return nil, fmt.Errorf("%w: line longer than %d bytes", ErrProtocol, l.max)
			}
			if line := bytes.TrimSpace(chunk); len(line) > 0 {
				return line, nil
			}
			continue
		}
		for {
			if len(l.buf)+len(chunk) > l.max {
				return nil, fmt.Errorf("%w: line longer than %d bytes", ErrProtocol, l.max)
			}
			l.buf = append(l.buf, chunk...)
			if err == nil {
				break
			}
			if !errors.Is(err, bufio.ErrBufferFull) {
				// A final line without a newline is a truncated
				// message; report the read error rather than guess.
				return nil, err
			}
			chunk, err = l.r.ReadSlice('\n')
		}
		if line := bytes.TrimSpace(l.buf); len(line) > 0 {
			return line, nil
		}
	}
}
