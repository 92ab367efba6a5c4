package integration

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"govirt/client"
	"govirt/remote"
	"govirt/rpc/procs"
)

// TestVirshObjectEventsDeregister: virsh registers, waits and deregisters
// event callbacks of every object kind; its output must be what it prints
// against libvirt 9.0's own test driver (in the client library), and on
// the QEMU connection (where libvirtd has every kind's driver) a quietly
// timed-out loop.
func TestVirshObjectEventsDeregister(t *testing.T) {
	if _, err := exec.LookPath("virsh"); err != nil {
		t.Skip("virsh not installed")
	}
	d := startDaemon(t)
	for _, cmd := range []string{"secret-event --event lifecycle --timeout 1", "nodedev-event --event lifecycle --timeout 1",
		"secret-event --event value-changed --timeout 1", "nodedev-event --event update --timeout 1",
		"pool-event --event refresh --timeout 1", "net-event --event lifecycle --timeout 1", "event --all --timeout 1"} {
		wo, we, wrc := virsh(t, "test:///default", strings.Fields(cmd)...)
		for _, drv := range []string{"test", "qemu"} {
			if drv == "qemu" {
				wo, we, wrc = "event loop timed out\nevents received: 0\n\n", "", 1
			}
			out, errOut, rc := virsh(t, d.URI(drv), strings.Fields(cmd)...)
			if rc != wrc || out != wo || errOut != we {
				t.Errorf("%s: virsh %s: rc=%d\n%s%s\nlibvirt: rc=%d\n%s%s", drv, cmd, rc, out, errOut, wrc, wo, we)
			}
		}
	}
}

// TestLegacyDomainEvents drives the registrations of clients older than
// callback ids (CONNECT_DOMAIN_EVENT_REGISTER(_ANY)) and checks the old
// messages and the daemon's errors for unknown ids.
func TestLegacyDomainEvents(t *testing.T) {
	d := startDaemon(t)
	c, err := client.Dial(d.URI("test"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	got := make(chan int32, 16)
	c.OnEvent(func(prog uint32, proc int32, body []byte) { got <- proc })

	if err := c.Call(ctx, procs.ConnectDomainEventRegister, nil, &remote.ConnectDomainEventRegisterRet{}); err != nil {
		t.Fatal(err)
	}
	if err := c.Call(ctx, procs.ConnectDomainEventRegisterAny, remote.ConnectDomainEventRegisterAnyArgs{EventID: 1}, nil); err != nil {
		t.Fatal(err)
	}
	err = c.Call(ctx, procs.ConnectDomainEventRegisterAny, remote.ConnectDomainEventRegisterAnyArgs{EventID: 16}, nil)
	if err == nil || !strings.Contains(err.Error(), "unsupported event ID 16") {
		t.Fatalf("event 16: %v", err)
	}
	var dom remote.DomainLookupByNameRet
	if err := c.Call(ctx, procs.DomainLookupByName, remote.DomainLookupByNameArgs{Name: "test"}, &dom); err != nil {
		t.Fatal(err)
	}
	if err := c.Call(ctx, procs.DomainDestroy, remote.DomainDestroyArgs{Dom: dom.Dom}, nil); err != nil {
		t.Fatal(err)
	}
	select {
	case p := <-got:
		if p != procs.DomainEventLifecycle {
			t.Fatalf("got event procedure %d, want DOMAIN_EVENT_LIFECYCLE", p)
		}
	case <-ctx.Done():
		t.Fatal("no legacy lifecycle event")
	}
	if err := c.Call(ctx, procs.ConnectDomainEventDeregister, nil, &remote.ConnectDomainEventDeregisterRet{}); err != nil {
		t.Fatal(err)
	}
	err = c.Call(ctx, procs.ConnectDomainEventDeregister, nil, &remote.ConnectDomainEventDeregisterRet{})
	if err == nil || !strings.Contains(err.Error(), "domain event 0 not registered") {
		t.Fatalf("second deregister: %v", err)
	}
	if err := c.Call(ctx, procs.ConnectDomainEventDeregisterAny, remote.ConnectDomainEventDeregisterAnyArgs{EventID: 1}, nil); err != nil {
		t.Fatal(err)
	}
	err = c.Call(ctx, procs.ConnectSecretEventDeregisterAny, remote.ConnectSecretEventDeregisterAnyArgs{CallbackID: 99}, nil)
	if err == nil || !strings.Contains(err.Error(), "node device event callback 99 not registered") {
		t.Fatalf("secret deregister: %v", err)
	}
	// maxnames over the .x bound: libvirt's generated dispatcher's error.
	err = c.Call(ctx, procs.ConnectListStoragePools, remote.ConnectListStoragePoolsArgs{Maxnames: remote.RemoteStoragePoolListMax + 1}, &remote.ConnectListStoragePoolsRet{})
	if err == nil || !strings.Contains(err.Error(), "maxnames > REMOTE_STORAGE_POOL_LIST_MAX") {
		t.Fatalf("maxnames bound: %v", err)
	}
}
