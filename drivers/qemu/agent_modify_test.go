package qemu

import (
	"strings"
	"testing"

	"govirt/virerr"
)

const twoVcpus = `{"return": [{"logical-id": 0, "online": true, "can-offline": false},
	{"logical-id": 1, "online": true, "can-offline": true},
	{"logical-id": 2, "online": false, "can-offline": true}]}`

// The agent may set fewer vCPUs than asked: the rest go in another
// guest-set-vcpus, as qemuAgentSetVCPUs.
func TestAgentSetVcpusPartial(t *testing.T) {
	ag := fakeAgentConn(t, map[string]string{"guest-get-vcpus": twoVcpus, "guest-set-vcpus": `{"return": 1}`})
	if err := agentSetVcpus(&conn{}, ag, map[int]bool{1: true, 2: true}, 1); err != nil {
		t.Fatal(err)
	}
}

func TestAgentSetVcpusErrors(t *testing.T) {
	for _, tc := range []struct {
		set   string
		want  map[int]bool
		state int32
		code  virerr.Code
		msg   string
	}{
		{`{"return": 1}`, map[int]bool{0: true}, 0, virerr.ErrOperationUnsupported, "vCPU '0' is not offlinable"},
		{`{"return": 1}`, map[int]bool{1: true, 5: true, 6: true}, 1, virerr.ErrInvalidArg, "guest is missing vCPUs '5-6'"},
		{`{"return": 0}`, map[int]bool{1: true}, 0, virerr.ErrInternalError, "guest agent returned malformed or invalid return value"},
		{`{"return": 3}`, map[int]bool{1: true}, 0, virerr.ErrInternalError, "guest agent returned malformed or invalid return value"},
		{`{"return": "x"}`, map[int]bool{1: true}, 0, virerr.ErrInternalError, "malformed return value"},
	} {
		ag := fakeAgentConn(t, map[string]string{"guest-get-vcpus": twoVcpus, "guest-set-vcpus": tc.set})
		err := agentSetVcpus(&conn{}, ag, tc.want, tc.state)
		if e := virerr.From(err); err == nil || e.Code != tc.code || !strings.Contains(e.Message, tc.msg) {
			t.Errorf("%v %s: %v, want %q", tc.want, tc.set, err, tc.msg)
		}
	}
}
