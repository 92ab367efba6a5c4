// Package qmptest provides a fake QMP monitor that replays a transcript,
// for testing QMP clients without QEMU.
//
// Transcripts use the format of libvirt's qemucapabilitiesdata/*.replies
// files: JSON objects separated by blank lines, each command object
// ({"execute": ..., "id": ...}) followed by its reply object. Event objects
// found between them are replayed where they appear.
package qmptest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"time"
)

// Event is an event the server sends.
type Event struct {
	Name string
	// Data is marshalled as the event's "data"; nil omits it.
	Data any
}

// Request is a command as the server received it.
type Request struct {
	Execute   string
	Arguments json.RawMessage
	ID        json.RawMessage
	// Files holds descriptors received with the command. The server closes
	// them after Exchange.Check returns.
	Files []*os.File
}

// Exchange is one expected command and what the server does about it.
type Exchange struct {
	// Execute and Arguments are what the client must send. Arguments are
	// compared as JSON values; absent, null and {} are all "no arguments".
	Execute   string
	Arguments json.RawMessage

	// Reply is the reply object without its id ({"return": ...} or
	// {"error": ...}); the server adds the client's id.
	Reply json.RawMessage
	// NoReply makes the server swallow the command, as a hung QEMU would.
	NoReply bool
	// ReplyDelay holds the reply back. The server handles one command at a
	// time, so later commands wait as well, as they do in QEMU.
	ReplyDelay time.Duration

	// Before are sent after the command is read and before its reply;
	// After right after the reply.
	Before, After []Event

	// Check, if set, inspects the received command; an error fails the
	// test. It runs before the reply is sent.
	Check func(Request) error
}

// Return builds an exchange answering cmd with the given return value.
func Return(cmd string, args any, ret any) Exchange {
	return Exchange{Execute: cmd, Arguments: mustJSON(args), Reply: mustJSON(map[string]any{"return": orEmpty(ret)})}
}

// Fail builds an exchange answering cmd with a QMP error.
func Fail(cmd string, args any, class, desc string) Exchange {
	return Exchange{Execute: cmd, Arguments: mustJSON(args),
		Reply: mustJSON(map[string]any{"error": map[string]string{"class": class, "desc": desc}})}
}

func orEmpty(v any) any {
	if v == nil {
		return struct{}{}
	}
	return v
}

func mustJSON(v any) json.RawMessage {
	if v == nil {
		return nil
	}
	if raw, ok := v.(json.RawMessage); ok {
		return raw
	}
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("qmptest: %v", err))
	}
	return b
}

// LoadReplies reads a transcript file.
func LoadReplies(path string) ([]Exchange, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	ex, err := ParseReplies(b)
	if err != nil {
		return nil, fmt.Errorf("qmptest: %s: %w", path, err)
	}
	return ex, nil
}

// ParseReplies parses transcript text (see LoadReplies).
func ParseReplies(data []byte) ([]Exchange, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	var out []Exchange
	awaiting := false // the last exchange still needs its reply
	for {
		var obj map[string]json.RawMessage
		err := dec.Decode(&obj)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("offset %d: %w", dec.InputOffset(), err)
		}
		switch {
		case obj["execute"] != nil:
			if awaiting {
				return nil, fmt.Errorf("offset %d: command without a reply", dec.InputOffset())
			}
			var ex Exchange
			if err := json.Unmarshal(obj["execute"], &ex.Execute); err != nil {
				return nil, fmt.Errorf("offset %d: execute: %w", dec.InputOffset(), err)
			}
			ex.Arguments = obj["arguments"]
			out = append(out, ex)
			awaiting = true
		case obj["event"] != nil:
			ev, err := parseEvent(obj)
			if err != nil {
				return nil, fmt.Errorf("offset %d: %w", dec.InputOffset(), err)
			}
			if len(out) == 0 {
				return nil, fmt.Errorf("offset %d: event before the first command", dec.InputOffset())
			}
			last := &out[len(out)-1]
			if awaiting {
				last.Before = append(last.Before, ev)
			} else {
				last.After = append(last.After, ev)
			}
		default:
			if !awaiting {
				return nil, fmt.Errorf("offset %d: reply without a command", dec.InputOffset())
			}
			delete(obj, "id")
			reply, err := json.Marshal(obj)
			if err != nil {
				return nil, err
			}
			out[len(out)-1].Reply = reply
			awaiting = false
		}
	}
	if awaiting {
		return nil, errors.New("last command has no reply")
	}
	return out, nil
}

func parseEvent(obj map[string]json.RawMessage) (Event, error) {
	var ev Event
	if err := json.Unmarshal(obj["event"], &ev.Name); err != nil {
		return ev, fmt.Errorf("event: %w", err)
	}
	if d := obj["data"]; d != nil {
		ev.Data = d
	}
	return ev, nil
}

// sameArguments compares argument objects as JSON values, treating
// absent, null and {} alike.
func sameArguments(a, b json.RawMessage) bool {
	va, errA := decodeArgs(a)
	vb, errB := decodeArgs(b)
	if errA != nil || errB != nil {
		return false
	}
	return reflect.DeepEqual(va, vb)
}

func decodeArgs(raw json.RawMessage) (any, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, nil
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, err
	}
	if m, ok := v.(map[string]any); ok && len(m) == 0 {
		return nil, nil
	}
	return v, nil
}
