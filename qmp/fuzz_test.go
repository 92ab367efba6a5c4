package qmp_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"govirt/qmp"
)

// FuzzMonitorInput feeds arbitrary bytes as QEMU's output after a valid
// negotiation, while a command is in flight. Whatever arrives, the monitor
// must not panic, the command must return, and both goroutines must finish
// once the peer hangs up.
func FuzzMonitorInput(f *testing.F) {
	for _, seed := range []string{
		"",
		"{\"return\": {}, \"id\": \"govirt-2\"}\r\n",
		"{\"error\": {\"class\": \"GenericError\", \"desc\": \"x\"}, \"id\": \"govirt-2\"}\n",
		"{\"event\": \"STOP\", \"timestamp\": {\"seconds\": 1, \"microseconds\": 2}}\n",
		"{\"event\": \"STOP\", \"data\": null}\n{\"return\": 5, \"id\": \"govirt-2\"}\n",
		"{\"return\": {}, \"id\": 2}\n{\"return\": {}}\n[1,2]\n",
		"not json\n",
		"{\"id\": \"govirt-2\"\n",
		"{\"event\": 5}\n",
		"{\"QMP\": {\"version\": {}}}\n",
		"{\"error\": \"oops\", \"id\": \"govirt-2\"}\n",
		"\r\n\r\n   \n",
		"{\"return\": {}, \"id\": \"govirt-999\"}\n",
		"\xff\xfe\x00",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, s := socketpair(t)
		go func() {
			p := newPeer(t, s)
			p.conn.Write(data)
			// Read (and drop) the in-flight command so the write side
			// never blocks, then hang up.
			s.SetReadDeadline(time.Now().Add(time.Second))
			p.read()
			s.Close()
		}()
		eofs := make(chan error, 2)
		m, err := qmp.New(context.Background(), c, qmp.Options{
			OnEvent:     func(qmp.Event) {},
			OnEOF:       func(err error) { eofs <- err },
			MaxLineSize: 1 << 16,
		})
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		err = m.Execute(ctx, "query-status", nil, new(any))
		var qe *qmp.Error
		if err != nil && !errors.As(err, &qe) && !errors.Is(err, qmp.ErrClosed) {
			t.Errorf("Execute: unexpected error %v", err)
		}
		select {
		case <-m.Done():
		case <-time.After(10 * time.Second):
			t.Fatal("monitor did not finish after the peer hung up")
		}
		m.Close()
		if len(eofs) != 1 {
			t.Errorf("OnEOF called %d times", len(eofs))
		}
	})
}
