package command

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestPasstArgs checks passt's arguments for libvirt's net-user-passt
// input against what qemuPasstStart writes for it: socket, MAC,
// interface, log file, addresses, then one port specification per
// <portForward> (address%dev/, ~ for excluded ranges, start-end:to-end').
func TestPasstArgs(t *testing.T) {
	dir := corpusDir(t)
	cp, err := latestCaps()
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "qemuxml2argvdata", "net-user-passt.xml")
	def := loadDomain(t, file, "")
	p := corpusPaths(def.Name)
	cl, err := Build(def, testHostCaps{cp}, p)
	if err != nil {
		t.Fatal(err)
	}
	if len(cl.Passt) != 1 {
		t.Fatalf("passt daemons: %+v", cl.Passt)
	}
	got := strings.Join(cl.Passt[0].Args, " ")
	want := "--one-off --socket /bad-test-used-env-xdg-runtime-dir/libvirt/qemu/run/passt/-1-QEMUGuest1-net0.socket" +
		" --mac-addr 00:11:22:33:44:55 --interface eth42 --log-file /var/log/loglaw.blog" +
		" --address 172.17.2.0 --netmask 24 --address 2001:db8:ac10:fd01::feed" +
		" --tcp-ports 2001:db8:ac10:fd01::1:10/22:2022,1000-1050,~1020,~1030-1040" +
		" --udp-ports 1.2.3.4%eth0/5000-5020:6000-6020,~5010-5015" +
		" --tcp-ports 80 --tcp-ports 443:344"
	if got != want {
		t.Errorf("passt args\n got %s\nwant %s", got, want)
	}
}
