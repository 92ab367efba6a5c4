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

func newLineReader(r io.Reader, max int) *lineReader {
	if max <= 0 {
		max = defaultMaxLineSize
	}
	return &lineReader{r: bufio.NewReaderSize(r, 64<<10), max: max}
}

// next returns the next non-blank line without its terminator. The slice
// is only valid until the following call.
func (l *lineReader) next() ([]byte, error) {
	for {
		// Don't pin a schema-sized buffer for the monitor's lifetime.
		if cap(l.buf) > 1<<20 {
			l.buf = nil
		}
		l.buf = l.buf[:0]
		for {
			chunk, err := l.r.ReadSlice('\n')
			if len(l.buf)+len(chunk) > l.max {
				return nil, fmt.Errorf("%w: line longer than %d bytes", ErrProtocol, l.max)
			}
			l.buf = append(l.buf, chunk...)
			if err == nil {
				break
			}
			if errors.Is(err, bufio.ErrBufferFull) {
				continue
			}
			// A final line without a newline is a truncated message;
			// report the read error rather than guess.
			return nil, err
		}
		if line := bytes.TrimSpace(l.buf); len(line) > 0 {
			return line, nil
		}
	}
}
