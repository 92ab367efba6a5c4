package remote

import (
	"govirt/rpc/procs"
	"net/url"
	"testing"
	"time"

	testdrv "govirt/drivers/test"
	"govirt/rpc/xdr"
)

// A deregister that runs while its registration is still being made (the
// client guessed the id) found the callback without a subscription and
// panicked (dispatcher fuzz, testdata/fuzz/FuzzDispatch/e7bfde7b9fc559ad).
// Run with -race: the unsynchronised subscription is reported even when
// the timing does not crash.
func TestDeregisterDuringRegister(t *testing.T) {
	u, _ := url.Parse("test:///default")
	c, err := testdrv.New().Open(u, false)
	if err != nil {
		t.Fatal(err)
	}
	h := &handler{session: &session{drv: c}}
	defer h.close()
	reg := map[string]func(*handler, []byte) (any, error){
		"domain": domainEventRegister, "qemu monitor": qemuMonitorEventRegister,
	}
	dereg := map[string]procFunc{"domain": table[procs.ConnectDomainEventCallbackDeregisterAny].fn, "qemu monitor": qemuMonitorEventDeregister}
	regArgs := map[string][]byte{}
	regArgs["domain"], _ = xdr.Marshal(ConnectDomainEventCallbackRegisterAnyArgs{})
	regArgs["qemu monitor"], _ = xdr.Marshal(QemuConnectDomainMonitorEventRegisterArgs{})
	for kind := range reg {
		for i := 0; i < 100; i++ {
			h.cbs.mu.Lock()
			next := h.cbs.next
			h.cbs.mu.Unlock()
			id, _ := xdr.Marshal(registerRet{next})
			done := make(chan struct{})
			go func() {
				defer close(done)
				for end := time.Now().Add(5 * time.Second); time.Now().Before(end); {
					if _, err := dereg[kind](h, id); err == nil {
						return
					}
				}
			}()
			if _, err := reg[kind](h, regArgs[kind]); err != nil {
				t.Fatal(err)
			}
			<-done
		}
	}
}
