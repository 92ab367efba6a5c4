package agent

import (
	"bytes"
	"encoding/json"
	"errors"
)

// MaxLine bounds one message from the agent, as libvirt's 10 MiB: a
// longer line ends the connection rather than growing without limit.
const MaxLine = 10 << 20

// delimiter is the byte qemu-ga writes before its reply to
// guest-sync-delimited, and the byte that resets its own parser when a
// client sends it: everything before it is stale.
const delimiter = 0xFF

var errLineTooLong = errors.New("agent reply exceeds 10 MiB")

// splitter cuts the agent's byte stream into lines. A delimiter byte
// throws away the partial line before it.
type splitter struct {
	buf []byte
}

// feed adds p and calls line for each complete line (without its
// newline). The slice passed to line is only valid during the call.
func (s *splitter) feed(p []byte, line func([]byte)) error {
	for len(p) > 0 {
		i := indexSep(p)
		if i < 0 {
			if len(s.buf)+len(p) > MaxLine {
				s.buf = s.buf[:0]
				return errLineTooLong
			}
			s.buf = append(s.buf, p...)
			return nil
		}
		if p[i] == delimiter {
			s.buf = s.buf[:0]
			p = p[i+1:]
			continue
		}
		if len(s.buf)+i > MaxLine {
			s.buf = s.buf[:0]
			return errLineTooLong
		}
		var l []byte
		if len(s.buf) == 0 {
			l = p[:i]
		} else {
			s.buf = append(s.buf, p[:i]...)
			l = s.buf
		}
		line(l)
		s.buf = s.buf[:0]
		p = p[i+1:]
	}
	return nil
}

// indexSep is the index of the first newline or delimiter byte, or -1.
// (bytes.IndexAny reads its set as UTF-8, where 0xFF is no byte at all
// but U+FFFD, which matches any invalid sequence.)
func indexSep(p []byte) int {
	for i, b := range p {
		if b == '\n' || b == delimiter {
			return i
		}
	}
	return -1
}

// kind classifies a line from the agent.
type kind int

const (
	kindGarbage  kind = iota // not a JSON object, or one of no known shape
	kindGreeting             // {"QMP": ...} (qemu-ga sends none; tolerated)
	kindEvent                // {"event": ...}
	kindReply                // {"return": ...} or {"error": ...}
)

// wireError is the "error" member of a reply.
type wireError struct {
	Class string `json:"class"`
	Desc  string `json:"desc"`
}

// message is one parsed line.
type message struct {
	kind kind
	// For replies: ret is the "return" member (nil when absent); err
	// the "error" member (nil when absent or not an object).
	ret json.RawMessage
	err *wireError
	// badErr: the reply has an "error" member that is not an object.
	badErr bool
	// raw is the whole reply as compact JSON (set for command replies).
	raw []byte
}

// parseLine classifies and decodes one line. It never fails: what it
// cannot make sense of is garbage, which the reader skips.
func parseLine(line []byte) message {
	line = bytes.TrimSpace(line)
	if len(line) == 0 || line[0] != '{' {
		return message{kind: kindGarbage}
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(line, &obj); err != nil {
		return message{kind: kindGarbage}
	}
	if _, ok := obj["QMP"]; ok {
		return message{kind: kindGreeting}
	}
	if _, ok := obj["event"]; ok {
		return message{kind: kindEvent}
	}
	ret, hasRet := obj["return"]
	e, hasErr := obj["error"]
	if !hasRet && !hasErr {
		return message{kind: kindGarbage}
	}
	m := message{kind: kindReply}
	if hasRet {
		m.ret = append(json.RawMessage(nil), ret...)
	}
	if hasErr {
		var we wireError
		if json.Unmarshal(e, &we) == nil && bytes.HasPrefix(bytes.TrimSpace(e), []byte("{")) {
			m.err = &we
		} else {
			m.badErr = true
		}
	}
	return m
}

// syncID reads the id a sync reply returns; ok is false when the
// reply is not a plain non-negative integer (a delayed reply to some
// other command).
func (m message) syncID() (uint64, bool) {
	if m.kind != kindReply || m.err != nil || m.badErr || m.ret == nil {
		return 0, false
	}
	var id uint64
	if err := json.Unmarshal(m.ret, &id); err != nil {
		return 0, false
	}
	return id, true
}
