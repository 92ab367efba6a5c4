package testguest

import (
	"bytes"
	"fmt"
	"io"
	"regexp"
	"sync"
	"time"
)

// Console drives the guest's serial console: it records everything the
// guest prints and lets a test wait for output and type commands.
//
// Typed commands are echoed by the guest's shell, so match on output the
// command prints (the helpers print upper-case "GV-..." lines) rather than
// on the command text.
type Console struct {
	w io.Writer

	mu     sync.Mutex
	buf    bytes.Buffer
	pos    int           // offset in buf up to which output has been consumed by Expect
	notify chan struct{} // closed and replaced when output arrives or the reader ends
	rerr   error         // set when the reader ends
}

// NewConsole starts recording r (the guest's serial output) and sends
// commands to w (the guest's serial input). It reads r until EOF or error.
func NewConsole(r io.Reader, w io.Writer) *Console {
	c := &Console{w: w, notify: make(chan struct{})}
	go c.read(r)
	return c
}

func (c *Console) read(r io.Reader) {
	b := make([]byte, 4096)
	for {
		n, err := r.Read(b)
		c.mu.Lock()
		c.buf.Write(b[:n])
		if err != nil {
			c.rerr = err
		}
		close(c.notify)
		c.notify = make(chan struct{})
		c.mu.Unlock()
		if err != nil {
			return
		}
	}
}

// Send types line followed by a newline.
func (c *Console) Send(line string) error {
	_, err := io.WriteString(c.w, line+"\n")
	return err
}

// Expect waits up to timeout for substr to appear in output not yet consumed
// and consumes output up to the end of the line containing it, which it
// returns (without the line terminator).
func (c *Console) Expect(substr string, timeout time.Duration) (string, error) {
	m, err := c.ExpectRegexp(regexp.MustCompile(regexp.QuoteMeta(substr)), timeout)
	if err != nil {
		return "", err
	}
	return m[0], nil
}

// ExpectRegexp waits up to timeout for re to match a line of output not
// yet consumed, consumes output up to the end of that line and returns the
// matched line (m[0], without the line terminator) followed by re's
// submatches. A line is matched once it is complete (newline-terminated).
func (c *Console) ExpectRegexp(re *regexp.Regexp, timeout time.Duration) ([]string, error) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		c.mu.Lock()
		data := c.buf.Bytes()
		for c.pos < len(data) {
			nl := bytes.IndexByte(data[c.pos:], '\n')
			if nl < 0 {
				break
			}
			line := bytes.TrimRight(data[c.pos:c.pos+nl], "\r")
			c.pos += nl + 1
			if sm := re.FindSubmatch(line); sm != nil {
				c.mu.Unlock()
				out := []string{string(line)}
				for _, s := range sm[1:] {
					out = append(out, string(s))
				}
				return out, nil
			}
		}
		ch, rerr := c.notify, c.rerr
		c.mu.Unlock()
		if rerr != nil {
			return nil, fmt.Errorf("console closed (%v) while waiting for %q", rerr, re)
		}
		select {
		case <-ch:
		case <-deadline.C:
			return nil, fmt.Errorf("timed out after %v waiting for %q on the console", timeout, re)
		}
	}
}

// Output returns everything the guest has printed so far.
func (c *Console) Output() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.String()
}
