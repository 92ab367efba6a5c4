package qmp_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"govirt/qmp"
)

// TestExecuteBatch: every command of a batch reaches QEMU before any
// reply is needed (the peer reads all of them first), and each reply,
// error or decoding failure lands on its own command.
func TestExecuteBatch(t *testing.T) {
	const n = 200
	c, s := socketpair(t)
	go func() {
		p := newPeer(t, s)
		var cmds []command
		for len(cmds) < n+2 {
			cmd, err := p.read()
			if err != nil {
				return
			}
			cmds = append(cmds, cmd)
		}
		for _, cmd := range cmds {
			switch cmd.Execute {
			case "fail":
				p.send(`{"error": {"class": "GenericError", "desc": "no"}, "id": ` + string(cmd.ID) + `}`)
			case "wrongtype":
				p.reply(cmd, `"text"`)
			default:
				p.reply(cmd, string(cmd.Arguments))
			}
		}
		p.answerAll()
	}()
	m, err := qmp.New(context.Background(), c, qmp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	rets := make([]struct{ N int }, n)
	var cmds []qmp.Command
	for i := range n {
		cmds = append(cmds, qmp.Command{Name: "echo", Args: map[string]int{"n": i}, Ret: &rets[i]})
	}
	var wrong int
	cmds = append(cmds, qmp.Command{Name: "fail"}, qmp.Command{Name: "wrongtype", Ret: &wrong})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	errs, err := m.ExecuteBatch(ctx, cmds)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if errs[i] != nil || rets[i].N != i {
			t.Fatalf("command %d: %+v, %v", i, rets[i], errs[i])
		}
	}
	var qe *qmp.Error
	if !errors.As(errs[n], &qe) || qe.Command != "fail" || qe.Desc != "no" {
		t.Errorf("fail: %v", errs[n])
	}
	if errs[n+1] == nil || !strings.Contains(errs[n+1].Error(), "decoding reply") {
		t.Errorf("wrongtype: %v", errs[n+1])
	}
	// The monitor still works afterwards (answerAll replies {}).
	if err := m.Execute(ctx, "echo", nil, nil); err != nil {
		t.Errorf("after the batch: %v", err)
	}
}

// TestExecuteBatchClosed: a monitor that goes away in the middle of a
// batch fails the batch as a whole, and nothing waits forever.
func TestExecuteBatchClosed(t *testing.T) {
	c, s := socketpair(t)
	go func() {
		p := newPeer(t, s)
		cmd, err := p.read()
		if err != nil {
			return
		}
		p.reply(cmd, "{}")
		s.Close()
	}()
	m, err := qmp.New(context.Background(), c, qmp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = m.ExecuteBatch(ctx, []qmp.Command{{Name: "a"}, {Name: "b"}, {Name: "c"}})
	if err == nil || !errors.Is(err, qmp.ErrClosed) && !strings.Contains(err.Error(), "closed") && !strings.Contains(err.Error(), "EOF") {
		t.Errorf("err = %v", err)
	}
}
