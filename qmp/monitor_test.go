package qmp_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"govirt/qmp"
	"govirt/qmp/qmptest"
)

func TestNegotiation(t *testing.T) {
	m, srv := dialFake(t, qmp.Options{}, qmptest.Options{})
	g := m.Greeting()
	if g.Version != (qmp.Version{Major: 7, Minor: 2, Micro: 0}) || g.Version.String() != "7.2.0" {
		t.Errorf("version = %+v", g.Version)
	}
	if g.Package != "v7.2.0" || len(g.Capabilities) != 1 || g.Capabilities[0] != "oob" {
		t.Errorf("greeting = %+v", g)
	}
	srv.Done()
}

func TestHandshakeFailures(t *testing.T) {
	t.Run("bad greeting", func(t *testing.T) {
		c, s := socketpair(t)
		defer s.Close()
		go s.Write([]byte("{\"hello\": 1}\r\n"))
		_, err := qmp.New(context.Background(), c, qmp.Options{OnEOF: func(error) { t.Error("OnEOF called") }})
		if !errors.Is(err, qmp.ErrProtocol) {
			t.Fatalf("err = %v, want ErrProtocol", err)
		}
	})
	t.Run("capabilities refused", func(t *testing.T) {
		srv := qmptest.NewServer(t, []qmptest.Exchange{
			qmptest.Fail("qmp_capabilities", nil, "CommandNotFound", "nope"),
		}, qmptest.Options{})
		_, err := qmp.Dial(context.Background(), srv.Path(), qmp.Options{})
		var qe *qmp.Error
		if !errors.As(err, &qe) || qe.Class != "CommandNotFound" || qe.Command != "qmp_capabilities" {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("silent peer", func(t *testing.T) {
		c, s := socketpair(t)
		defer s.Close()
		start := time.Now()
		_, err := qmp.New(context.Background(), c, qmp.Options{
			Timeouts: map[string]time.Duration{"qmp_capabilities": 50 * time.Millisecond},
		})
		if !errors.Is(err, qmp.ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want ErrTimeout", err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("took %v", d)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		c, s := socketpair(t)
		defer s.Close()
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(20*time.Millisecond, cancel)
		_, err := qmp.New(ctx, c, qmp.Options{})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
	})
}

// TestConcurrentCallers has the peer collect every command before
// answering them in reverse, so only id correlation can get them right.
func TestConcurrentCallers(t *testing.T) {
	const n = 32
	c, s := socketpair(t)
	go func() {
		p := newPeer(t, s)
		var cmds []command
		for len(cmds) < n {
			cmd, err := p.read()
			if err != nil {
				return
			}
			cmds = append(cmds, cmd)
		}
		for i := len(cmds) - 1; i >= 0; i-- {
			p.reply(cmds[i], string(cmds[i].Arguments))
		}
	}()
	m, err := qmp.New(context.Background(), c, qmp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var ret struct{ N int }
			if err := m.Execute(context.Background(), "echo", map[string]int{"n": i}, &ret); err != nil {
				t.Errorf("caller %d: %v", i, err)
			} else if ret.N != i {
				t.Errorf("caller %d got the reply for %d", i, ret.N)
			}
		}()
	}
	wg.Wait()
}

func TestErrorMapping(t *testing.T) {
	m, srv := dialFake(t, qmp.Options{}, qmptest.Options{},
		qmptest.Fail("device_del", map[string]string{"id": "net0"}, "DeviceNotFound", "Device 'net0' not found"),
		qmptest.Return("query-status", nil, map[string]any{"status": "running", "running": true}),
		qmptest.Return("query-name", nil, map[string]any{"name": 5}),
	)
	ctx := context.Background()
	err := m.Execute(ctx, "device_del", map[string]string{"id": "net0"}, nil)
	var qe *qmp.Error
	if !errors.As(err, &qe) {
		t.Fatalf("err = %T %v, want *qmp.Error", err, err)
	}
	if qe.Class != "DeviceNotFound" || qe.Desc != "Device 'net0' not found" || qe.Command != "device_del" {
		t.Errorf("error = %+v", qe)
	}
	if errors.Is(err, qmp.ErrClosed) || errors.Is(err, qmp.ErrTimeout) {
		t.Errorf("QMP error matches a sentinel: %v", err)
	}

	var st struct {
		Status  string
		Running bool
	}
	if err := m.Execute(ctx, "query-status", nil, &st); err != nil || st.Status != "running" || !st.Running {
		t.Errorf("query-status = %+v, %v", st, err)
	}
	var name struct{ Name string }
	if err := m.Execute(ctx, "query-name", nil, &name); err == nil || !strings.Contains(err.Error(), "decoding reply") {
		t.Errorf("type mismatch: err = %v", err)
	}
	srv.Done()
}

func TestArgumentsOmittedWhenNil(t *testing.T) {
	c, s := socketpair(t)
	got := make(chan json.RawMessage, 2)
	go func() {
		p := newPeer(t, s)
		for {
			cmd, err := p.read()
			if err != nil {
				return
			}
			got <- cmd.Arguments
			p.reply(cmd, "{}")
		}
	}()
	m, err := qmp.New(context.Background(), c, qmp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	var nilMap map[string]int
	for _, args := range []any{nil, nilMap} {
		if err := m.Execute(context.Background(), "stop", args, nil); err != nil {
			t.Fatal(err)
		}
		if a := <-got; a != nil {
			t.Errorf("args %#v sent arguments %s", args, a)
		}
	}
}

func TestLargeReply(t *testing.T) {
	c, s := socketpair(t)
	big := strings.Repeat("x", 8<<20)
	go func() {
		p := newPeer(t, s)
		cmd, err := p.read()
		if err == nil {
			p.reply(cmd, `"`+big+`"`)
		}
	}()
	m, err := qmp.New(context.Background(), c, qmp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	var ret string
	if err := m.Execute(context.Background(), "query-qmp-schema", nil, &ret); err != nil || ret != big {
		t.Fatalf("len = %d, err = %v", len(ret), err)
	}
}

func TestMalformedOutputClosesMonitor(t *testing.T) {
	c, s := socketpair(t)
	eof := make(chan error, 1)
	go func() {
		p := newPeer(t, s)
		if _, err := p.read(); err == nil {
			p.send(`{"return": {}, "id": "govirt-2"`) // truncated object
		}
	}()
	m, err := qmp.New(context.Background(), c, qmp.Options{OnEOF: func(err error) { eof <- err }})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	err = m.Execute(context.Background(), "query-status", nil, nil)
	if !errors.Is(err, qmp.ErrClosed) || !errors.Is(err, qmp.ErrProtocol) {
		t.Errorf("Execute err = %v", err)
	}
	if err := <-eof; !errors.Is(err, qmp.ErrProtocol) {
		t.Errorf("OnEOF err = %v", err)
	}
}

func TestCloseSemantics(t *testing.T) {
	var eofs []error
	var mu sync.Mutex
	m, _ := dialFake(t, qmp.Options{OnEOF: func(err error) {
		mu.Lock()
		eofs = append(eofs, err)
		mu.Unlock()
	}}, qmptest.Options{}, qmptest.Exchange{Execute: "migrate-incoming", NoReply: true})

	pending := make(chan error, 1)
	go func() { pending <- m.Execute(context.Background(), "migrate-incoming", nil, nil) }()
	time.Sleep(50 * time.Millisecond) // let it reach the wire
	if err := m.Close(); err != nil {
		t.Errorf("Close = %v", err)
	}
	if err := <-pending; !errors.Is(err, qmp.ErrClosed) {
		t.Errorf("pending Execute = %v, want ErrClosed", err)
	}
	if err := m.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
	if err := m.Execute(context.Background(), "query-status", nil, nil); !errors.Is(err, qmp.ErrClosed) {
		t.Errorf("later Execute = %v, want ErrClosed", err)
	}
	waitClosed(t, m.Done(), "Done")
	mu.Lock()
	defer mu.Unlock()
	if len(eofs) != 1 || !errors.Is(eofs[0], qmp.ErrClosed) {
		t.Errorf("OnEOF calls = %v", eofs)
	}
}

// A handler closing its own monitor is a natural reaction to SHUTDOWN; it
// must not deadlock.
func TestCloseFromEventHandler(t *testing.T) {
	var m *qmp.Monitor
	ready := make(chan struct{})
	m, srv := dialFake(t, qmp.Options{OnEvent: func(ev qmp.Event) {
		<-ready
		m.Close()
	}}, qmptest.Options{})
	close(ready)
	srv.SendEvent("SHUTDOWN", map[string]any{"guest": true})
	waitClosed(t, m.Done(), "Done after Close from handler")
}

func TestEOFFromQEMU(t *testing.T) {
	eof := make(chan error, 2)
	m, _ := dialFake(t, qmp.Options{OnEOF: func(err error) { eof <- err }},
		qmptest.Options{CloseAfterLast: true}, qmptest.Return("quit", nil, nil))
	if err := m.Execute(context.Background(), "quit", nil, nil); err != nil {
		t.Fatal(err)
	}
	if err := <-eof; !errors.Is(err, io.EOF) {
		t.Errorf("OnEOF err = %v, want io.EOF", err)
	}
	m.Close()
	waitClosed(t, m.Done(), "Done")
	if len(eof) != 0 {
		t.Errorf("OnEOF called again: %v", <-eof)
	}
	if err := m.Execute(context.Background(), "query-status", nil, nil); !errors.Is(err, qmp.ErrClosed) || !errors.Is(err, io.EOF) {
		t.Errorf("Execute after EOF = %v", err)
	}
}

func TestNoGoroutineLeak(t *testing.T) {
	before := runtime.NumGoroutine()
	for i := range 20 {
		c, s := socketpair(t)
		go newPeer(t, s)
		m, err := qmp.New(context.Background(), c, qmp.Options{OnEvent: func(qmp.Event) {}})
		if err != nil {
			t.Fatal(err)
		}
		if i%2 == 0 {
			m.Close()
		} else {
			s.Close()
		}
		waitClosed(t, m.Done(), "Done")
		s.Close()
		m.Close()
	}
	waitGoroutines(t, before)
}

func TestExecuteWithFilesNeedsUnixSocket(t *testing.T) {
	c, s := net.Pipe()
	go func() { newPeer(t, s).answerAll() }()
	defer s.Close()
	m, err := qmp.New(context.Background(), c, qmp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	err = m.ExecuteWithFiles(context.Background(), "getfd", map[string]string{"fdname": "x"}, nil)
	if err != nil {
		t.Fatalf("no files should need no fd passing: %v", err)
	}
	f, err := openDevNull()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := m.ExecuteWithFiles(context.Background(), "getfd", nil, nil, f); !errors.Is(err, qmp.ErrNoFDPassing) {
		t.Errorf("err = %v, want ErrNoFDPassing", err)
	}
}

func ExampleMonitor_Execute() {
	srv := qmptest.NewServer(exampleReporter{}, []qmptest.Exchange{
		qmptest.Return("qmp_capabilities", nil, nil),
		qmptest.Return("query-status", nil, map[string]any{"status": "paused", "running": false}),
	}, qmptest.Options{})
	defer srv.Close()
	m, err := qmp.Dial(context.Background(), srv.Path(), qmp.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer m.Close()
	var st struct{ Status string }
	if err := m.Execute(context.Background(), "query-status", nil, &st); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(m.Greeting().Version, st.Status)
	// Output: 7.2.0 paused
}

type exampleReporter struct{}

func (exampleReporter) Errorf(format string, args ...any) { fmt.Printf(format+"\n", args...) }
func (exampleReporter) Cleanup(func())                    {}
