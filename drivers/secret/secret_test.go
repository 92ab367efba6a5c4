package secret

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"govirt/driver"
	"govirt/events"
	"govirt/virerr"
)

const volXML = `<secret ephemeral='no' private='no'>
  <uuid>8f2e6a4c-1111-4a3b-9c1d-0123456789ab</uuid>
  <usage type='volume'><volume>/tmp/x.img</volume></usage>
</secret>`

func errIs(t *testing.T, err error, code virerr.Code, msg string) {
	t.Helper()
	e, ok := err.(*virerr.Error)
	if !ok || e.Code != code || e.Domain != virerr.FromSecret || !strings.Contains(e.Message, msg) {
		t.Fatalf("got %v, want %d %q", err, code, msg)
	}
}

func TestStorePersistsValues(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "secrets")
	bus := events.New()
	var mu sync.Mutex
	var got []driver.SecretEvent
	bus.Subscribe(func(ev any) {
		if e, ok := ev.(driver.SecretEvent); ok {
			mu.Lock()
			got = append(got, e)
			mu.Unlock()
		}
	})
	m := New(Config{Dir: dir, Bus: bus})
	s, err := m.SecretDefineXML(volXML, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = m.SecretGetValue(s, 0)
	errIs(t, err, virerr.ErrNoSecret, "secret '8f2e6a4c-1111-4a3b-9c1d-0123456789ab' does not have a value")
	if err := m.SecretSetValue(s, []byte("hunter2"), 0); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(dir)
	if err != nil || st.Mode().Perm() != 0o700 {
		t.Fatalf("dir mode %v %v", st.Mode(), err)
	}
	for _, f := range []string{"8f2e6a4c-1111-4a3b-9c1d-0123456789ab.xml", "8f2e6a4c-1111-4a3b-9c1d-0123456789ab.base64"} {
		st, err := os.Stat(filepath.Join(dir, f))
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v %v", f, st, err)
		}
	}
	b, _ := os.ReadFile(filepath.Join(dir, "8f2e6a4c-1111-4a3b-9c1d-0123456789ab.base64"))
	if string(b) != "aHVudGVyMg==" {
		t.Fatalf("value file %q", b)
	}
	// A new store on the same directory (a restarted daemon) has it.
	m2 := New(Config{Dir: dir})
	s2, err := m2.LookupSecretByUsage(1, "/tmp/x.img")
	if err != nil || s2 != s {
		t.Fatalf("%v %v", s2, err)
	}
	v, err := m2.SecretGetValue(s2, 0)
	if err != nil || string(v) != "hunter2" {
		t.Fatalf("%q %v", v, err)
	}
	if v, err := m2.Value("", "volume", "/tmp/x.img"); err != nil || string(v) != "hunter2" {
		t.Fatalf("%q %v", v, err)
	}
	if err := m.SecretUndefine(s); err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("left %v", ents)
	}
	mu.Lock()
	defer mu.Unlock()
	want := []driver.SecretEvent{{Secret: s, Event: driver.SecretEventDefined}, {Secret: s, ValueChanged: true}, {Secret: s, Event: driver.SecretEventUndefined}}
	if len(got) != len(want) {
		t.Fatalf("events %+v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("event %d: %+v want %+v", i, got[i], want[i])
		}
	}
}

func TestStoreEphemeralPrivate(t *testing.T) {
	dir := t.TempDir()
	m := New(Config{Dir: dir})
	s, err := m.SecretDefineXML(`<secret ephemeral='yes' private='yes'><usage type='ceph'><name>c</name></usage></secret>`, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.SecretSetValue(s, []byte("k"), 0); err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("ephemeral secret written: %v", ents)
	}
	_, err = m.SecretGetValue(s, 0)
	errIs(t, err, virerr.ErrInvalidSecret, "Invalid secret: secret is private")
	if v, err := m.Value(s.UUID.String(), "", ""); err != nil || string(v) != "k" {
		t.Fatalf("internal value %q %v", v, err)
	}
	// Private cannot be dropped; usage cannot change.
	_, err = m.SecretDefineXML(`<secret ephemeral='yes' private='no'><uuid>`+s.UUID.String()+`</uuid><usage type='ceph'><name>c</name></usage></secret>`, 0)
	errIs(t, err, virerr.ErrInternalError, "cannot change private flag on existing secret")
	_, err = m.SecretDefineXML(`<secret private='yes'><uuid>`+s.UUID.String()+`</uuid><usage type='ceph'><name>d</name></usage></secret>`, 0)
	errIs(t, err, virerr.ErrInternalError, "a secret with UUID "+s.UUID.String()+" is already defined for use with c")
	_, err = m.SecretDefineXML(`<secret><usage type='ceph'><name>c</name></usage></secret>`, 0)
	errIs(t, err, virerr.ErrInternalError, "a secret with UUID "+s.UUID.String()+" already defined for use with c")
	// Turning it persistent writes the value.
	if _, err := m.SecretDefineXML(`<secret ephemeral='no' private='yes'><uuid>`+s.UUID.String()+`</uuid><usage type='ceph'><name>c</name></usage></secret>`, 0); err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 2 {
		t.Fatalf("persistent secret files: %v", ents)
	}
	// And ephemeral again removes them.
	if _, err := m.SecretDefineXML(`<secret ephemeral='yes' private='yes'><uuid>`+s.UUID.String()+`</uuid><usage type='ceph'><name>c</name></usage></secret>`, 0); err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("ephemeral secret files left: %v", ents)
	}
	for _, c := range []struct {
		flags uint32
		n     int
	}{{0, 1}, {ListEphemeral, 1}, {ListNoEphemeral, 0}, {ListPrivate | ListNoEphemeral, 0}, {ListNoPrivate, 0}, {ListPrivate | ListNoPrivate, 1}} {
		l, err := m.ListAllSecrets(c.flags)
		if err != nil || len(l) != c.n {
			t.Errorf("flags %#x: %v %v", c.flags, l, err)
		}
	}
	_, err = m.ListAllSecrets(1 << 4)
	errIs(t, err, virerr.ErrInvalidArg, "unsupported flags (0x10) in function secretConnectListAllSecrets")
	_, err = m.LookupSecretByUsage(2, "nope")
	errIs(t, err, virerr.ErrNoSecret, "no secret with matching usage 'nope'")
}

func TestStoreSkipsBadFiles(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "8f2e6a4c-1111-4a3b-9c1d-0123456789ac.xml"), []byte(volXML), 0o600)
	os.WriteFile(filepath.Join(dir, "junk.xml"), []byte("<secret"), 0o600)
	m := New(Config{Dir: dir})
	if n, _ := m.NumOfSecrets(); n != 0 {
		t.Fatalf("loaded %d", n)
	}
}
