package qmptest

import (
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeT records failures instead of failing, to test the reporting.
type fakeT struct {
	mu       sync.Mutex
	errs     []string
	cleanups []func()
}

func (f *fakeT) Errorf(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.errs = append(f.errs, fmt.Sprintf(format, args...))
}

func (f *fakeT) Cleanup(fn func()) { f.cleanups = append(f.cleanups, fn) }

func (f *fakeT) cleanup() {
	for i := len(f.cleanups) - 1; i >= 0; i-- {
		f.cleanups[i]()
	}
}

func (f *fakeT) errors() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.errs...)
}

func TestParseReplies(t *testing.T) {
	ex, err := ParseReplies([]byte(`
{
  "execute": "qmp_capabilities",
  "id": "libvirt-1"
}

{
  "return": {
  },
  "id": "libvirt-1"
}

{"execute": "device_del", "arguments": {"id": "x"}, "id": "libvirt-2"}

{"event": "DEVICE_DELETED", "data": {"device": "x"}}

{"error": {"class": "GenericError", "desc": "d"}, "id": "libvirt-2"}

{"event": "RESUME"}
`))
	if err != nil {
		t.Fatal(err)
	}
	if len(ex) != 2 || ex[0].Execute != "qmp_capabilities" || ex[1].Execute != "device_del" {
		t.Fatalf("exchanges = %+v", ex)
	}
	if string(ex[0].Reply) != `{"return":{}}` {
		t.Errorf("reply 0 = %s", ex[0].Reply)
	}
	if !strings.Contains(string(ex[1].Reply), `"GenericError"`) || strings.Contains(string(ex[1].Reply), "libvirt-2") {
		t.Errorf("reply 1 = %s", ex[1].Reply)
	}
	if len(ex[1].Before) != 1 || ex[1].Before[0].Name != "DEVICE_DELETED" || len(ex[1].After) != 1 {
		t.Errorf("events = %+v / %+v", ex[1].Before, ex[1].After)
	}

	for _, bad := range []string{
		`{"execute": "a"}`,
		`{"return": {}}`,
		`{"execute": "a"} {"execute": "b"}`,
		`{"execute": "a"} {`,
	} {
		if _, err := ParseReplies([]byte(bad)); err == nil {
			t.Errorf("ParseReplies(%q) succeeded", bad)
		}
	}
}

func TestWithID(t *testing.T) {
	for _, c := range []struct{ reply, id, want string }{
		{`{"return":{}}`, `"a-1"`, `{"return":{},"id":"a-1"}`},
		{"{\n \"return\": [1,\n 2]\n}", `"x"`, `{"return":[1,2],"id":"x"}`},
		{`{}`, `7`, `{"id":7}`},
		{``, `"x"`, `{"return":{},"id":"x"}`},
		{`{"return":1}`, ``, `{"return":1}`},
	} {
		if got := string(withID(json.RawMessage(c.reply), json.RawMessage(c.id))); got != c.want {
			t.Errorf("withID(%q, %q) = %s, want %s", c.reply, c.id, got, c.want)
		}
	}
}

func TestSameArguments(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want bool
	}{
		{``, `null`, true},
		{``, `{}`, true},
		{`{"a":1,"b":[true]}`, `{"b":[true], "a":1.0}`, true},
		{`{"a":1}`, `{"a":2}`, false},
		{`{"a":1}`, ``, false},
	} {
		if got := sameArguments(json.RawMessage(c.a), json.RawMessage(c.b)); got != c.want {
			t.Errorf("sameArguments(%s, %s) = %v", c.a, c.b, got)
		}
	}
}

// client is a minimal raw QMP client for exercising the server.
type client struct {
	conn *net.UnixConn
	dec  *json.Decoder
}

func dial(t *testing.T, s *Server) *client {
	t.Helper()
	c, err := s.Conn()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	cl := &client{conn: c, dec: json.NewDecoder(c)}
	var g map[string]json.RawMessage
	if err := cl.dec.Decode(&g); err != nil || g["QMP"] == nil {
		t.Fatalf("greeting: %v %v", g, err)
	}
	return cl
}

func (c *client) roundTrip(t *testing.T, cmd string) map[string]json.RawMessage {
	t.Helper()
	if _, err := c.conn.Write([]byte(cmd)); err != nil {
		t.Fatal(err)
	}
	var m map[string]json.RawMessage
	if err := c.dec.Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestServerReportsUnexpectedAndMissing(t *testing.T) {
	ft := &fakeT{}
	defer ft.cleanup()
	s := NewServer(ft, []Exchange{
		Return("query-status", nil, map[string]string{"status": "running"}),
		Return("stop", nil, nil),
		Return("cont", nil, nil),
	}, Options{})
	c := dial(t, s)

	r := c.roundTrip(t, `{"execute":"query-status","id":{"n":1}}`)
	if string(r["id"]) != `{"n":1}` || !strings.Contains(string(r["return"]), "running") {
		t.Errorf("reply = %v", r)
	}
	r = c.roundTrip(t, `{"execute":"cont","id":"c"}`)
	if r["error"] == nil || string(r["id"]) != `"c"` {
		t.Errorf("unexpected command reply = %v", r)
	}
	if errs := ft.errors(); len(errs) != 1 || !strings.Contains(errs[0], "unexpected command cont") {
		t.Errorf("reported %q", errs)
	}
	if s.Remaining() != 2 || s.Done() {
		t.Errorf("Remaining = %d", s.Remaining())
	}
	if errs := ft.errors(); len(errs) != 2 || !strings.Contains(errs[1], "2 of 3 commands never received") {
		t.Errorf("reported %q", errs)
	}
}

func TestServerEventsAndSplitWrites(t *testing.T) {
	ft := &fakeT{}
	defer ft.cleanup()
	s := NewServer(ft, []Exchange{{
		Execute: "system_reset", Reply: json.RawMessage(`{"return": {}}`),
		Before: []Event{{Name: "A"}}, After: []Event{{Name: "B", Data: map[string]int{"x": 1}}},
	}}, Options{CloseAfterLast: true})
	c := dial(t, s)
	// One command split over two writes must still be parsed as one.
	c.conn.Write([]byte(`{"execute":"syst`))
	time.Sleep(10 * time.Millisecond)
	c.conn.Write([]byte(`em_reset","id":"r"}`))
	var got []string
	for {
		var m map[string]json.RawMessage
		if err := c.dec.Decode(&m); err != nil {
			break
		}
		if ev := m["event"]; ev != nil {
			got = append(got, string(ev))
			if m["timestamp"] == nil {
				t.Error("event without timestamp")
			}
		} else {
			got = append(got, "reply "+string(m["id"]))
		}
	}
	if strings.Join(got, " ") != `"A" reply "r" "B"` {
		t.Errorf("stream = %v", got)
	}
	if !s.Done() || len(ft.errors()) != 0 {
		t.Errorf("errors: %q", ft.errors())
	}
}
