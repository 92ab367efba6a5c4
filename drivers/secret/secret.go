// Package secret is the secret store of the QEMU connection, as libvirt's
// secret driver (src/secret/secret_driver.c, src/conf/virsecretobj.c):
// definitions and values of persistent secrets live in one directory
// readable only by the daemon's user, UUID.xml and UUID.base64 (libvirt's
// layout under /etc/libvirt/secrets), each written to a temporary file,
// synced and renamed. Ephemeral secrets are kept in memory only; private
// secrets' values are never handed to a client, only to the QEMU driver.
package secret

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"govirt/atomicfile"
	"govirt/conf"
	"govirt/driver"
	"govirt/events"
	"govirt/uuid"
	"govirt/virerr"
)

// Config places the store.
type Config struct {
	// Dir holds the persistent secrets; it is created mode 0700.
	Dir string
	Bus *events.Bus
	Log *slog.Logger
}

// VIR_CONNECT_LIST_SECRETS_* flags.
const (
	ListEphemeral   = 1 << 0
	ListNoEphemeral = 1 << 1
	ListPrivate     = 1 << 2
	ListNoPrivate   = 1 << 3
	listAllFlags    = ListEphemeral | ListNoEphemeral | ListPrivate | ListNoPrivate
)

type object struct {
	def   *conf.Secret
	value []byte // nil: no value set
}

// Manager is the store; its methods are safe for concurrent use.
type Manager struct {
	cfg Config
	log *slog.Logger

	mu   sync.Mutex
	objs map[uuid.UUID]*object
}

// New loads the persistent secrets of cfg.Dir. A definition that fails
// to load is logged and skipped, as libvirt's virSecretLoadAllConfigs.
func New(cfg Config) *Manager {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Bus == nil {
		cfg.Bus = events.New()
	}
	m := &Manager{cfg: cfg, log: cfg.Log.With("driver", "secret"), objs: map[uuid.UUID]*object{}}
	m.load()
	return m
}

func (m *Manager) load() {
	entries, err := os.ReadDir(m.cfg.Dir)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			m.log.Error("cannot read the secrets directory", "dir", m.cfg.Dir, "err", err)
		}
		return
	}
	_, _ = atomicfile.CleanTemp(m.cfg.Dir)
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".xml") || atomicfile.IsTemp(name) {
			continue
		}
		if err := m.loadOne(name); err != nil {
			m.log.Error("Error reading secret", "file", name, "err", err)
		}
	}
}

func (m *Manager) loadOne(name string) error {
	data, err := os.ReadFile(filepath.Join(m.cfg.Dir, name))
	if err != nil {
		return err
	}
	def, err := conf.ParseSecret(data, 0)
	if err != nil {
		return err
	}
	if def.UUID.String()+".xml" != name {
		return virerr.New(virerr.FromSecret, virerr.ErrInternalError, "<uuid> does not match secret file name '%s'", name)
	}
	def.Ephemeral = false // a file of an ephemeral secret is not ours
	if err := m.conflict(def); err != nil {
		return err
	}
	o := &object{def: def}
	if b, err := os.ReadFile(m.valuePath(def.UUID)); err == nil {
		v, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b)))
		if err != nil {
			return err
		}
		o.value = v
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	m.objs[def.UUID] = o
	return nil
}

func (m *Manager) configPath(u uuid.UUID) string {
	return filepath.Join(m.cfg.Dir, u.String()+".xml")
}
func (m *Manager) valuePath(u uuid.UUID) string {
	return filepath.Join(m.cfg.Dir, u.String()+".base64")
}

func errSecret(code virerr.Code, format string, a ...any) error {
	return virerr.New(virerr.FromSecret, code, format, a...)
}

func checkFlags(flags, allowed uint32, fn string) error {
	if flags&^allowed != 0 {
		return errSecret(virerr.ErrInvalidArg, "unsupported flags (0x%x) in function %s", flags&^allowed, fn)
	}
	return nil
}

func handle(d *conf.Secret) driver.Secret {
	return driver.Secret{UUID: d.UUID, UsageType: d.UsageType, UsageID: d.UsageID}
}

// find returns the secret of s (by its UUID, as libvirt's
// secretObjFromSecret); m.mu is held.
func (m *Manager) find(u uuid.UUID) (*object, error) {
	o := m.objs[u]
	if o == nil {
		return nil, errSecret(virerr.ErrNoSecret, "no secret with matching uuid '%s'", u)
	}
	return o, nil
}

func (m *Manager) byUsage(t int32, id string) *object {
	if t == conf.SecretUsageNone {
		return nil // virSecretObjSearchName never matches usage none
	}
	for _, o := range m.objs {
		if o.def.UsageType == t && o.def.UsageID == id {
			return o
		}
	}
	return nil
}

// conflict is virSecretObjListAdd's check of a new definition against
// the secrets already there; m.mu is held.
func (m *Manager) conflict(def *conf.Secret) error {
	if old := m.objs[def.UUID]; old != nil {
		if old.def.UsageID != def.UsageID {
			return errSecret(virerr.ErrInternalError, "a secret with UUID %s is already defined for use with %s", def.UUID, usageOrNull(old.def.UsageID))
		}
		if old.def.Private && !def.Private {
			return errSecret(virerr.ErrInternalError, "cannot change private flag on existing secret")
		}
		return nil
	}
	if o := m.byUsage(def.UsageType, def.UsageID); o != nil {
		return errSecret(virerr.ErrInternalError, "a secret with UUID %s already defined for use with %s", o.def.UUID, def.UsageID)
	}
	return nil
}

// usageOrNull is how glib's printf shows a NULL usage ID.
func usageOrNull(s string) string {
	if s == "" {
		return "(null)"
	}
	return s
}

func (m *Manager) publish(ev driver.SecretEvent) { m.cfg.Bus.Publish(ev) }

func (m *Manager) ensureDir() error {
	if err := os.MkdirAll(m.cfg.Dir, 0o700); err != nil {
		return errSecret(virerr.ErrSystemError, "cannot create config directory '%s': %v", m.cfg.Dir, err)
	}
	return nil
}

func (m *Manager) saveConfig(def *conf.Secret) error {
	if err := m.ensureDir(); err != nil {
		return err
	}
	p := m.configPath(def.UUID)
	if err := atomicfile.Write(p, []byte(def.Format()), 0o600); err != nil {
		return errSecret(virerr.ErrSystemError, "cannot write config file '%s': %v", p, err)
	}
	return nil
}

func (m *Manager) saveValue(u uuid.UUID, v []byte) error {
	if v == nil {
		return nil
	}
	if err := m.ensureDir(); err != nil {
		return err
	}
	p := m.valuePath(u)
	enc := []byte(base64.StdEncoding.EncodeToString(v))
	defer clear(enc)
	if err := atomicfile.Write(p, enc, 0o600); err != nil {
		return errSecret(virerr.ErrSystemError, "cannot write config file '%s': %v", p, err)
	}
	return nil
}

// sorted lists the secrets in UUID order; m.mu is held.
func (m *Manager) sorted() []*object {
	out := make([]*object, 0, len(m.objs))
	for _, o := range m.objs {
		out = append(out, o)
	}
	sort.Slice(out, func(i, j int) bool { return bytes.Compare(out[i].def.UUID[:], out[j].def.UUID[:]) < 0 })
	return out
}
