package qmp

import "context"

// Migration (also how a guest is saved to and restored from a file).

// Migrate runs migrate to uri ("tcp:HOST:PORT", "fd:NAME", ...).
func Migrate(ctx context.Context, e Executor, uri string) error {
	return run(ctx, e, "migrate", struct {
		URI string `json:"uri"`
	}{uri}, nil)
}

// MigrateIncoming runs migrate-incoming on a QEMU started with
// -incoming defer.
func MigrateIncoming(ctx context.Context, e Executor, uri string) error {
	return run(ctx, e, "migrate-incoming", struct {
		URI string `json:"uri"`
	}{uri}, nil)
}

// MigrateCancel runs migrate_cancel.
func MigrateCancel(ctx context.Context, e Executor) error {
	return run(ctx, e, "migrate_cancel", nil, nil)
}

// MigrationInfo is query-migrate's reply.
type MigrationInfo struct {
	Status         string   `json:"status"` // "", "setup", "active", "completed", "failed", "cancelled", ...
	ErrorDesc      string   `json:"error-desc"`
	BlockedReasons []string `json:"blocked-reasons"`
	RAM            struct {
		Total       uint64 `json:"total"`
		Transferred uint64 `json:"transferred"`
		Remaining   uint64 `json:"remaining"`
	} `json:"ram"`
}

// Active reports whether the migration is still running.
func (i MigrationInfo) Active() bool {
	switch i.Status {
	case "setup", "active", "pre-switchover", "device", "wait-unplug", "postcopy-active", "postcopy-paused", "postcopy-recover":
		return true
	}
	return false
}

// QueryMigrate runs query-migrate.
func QueryMigrate(ctx context.Context, e Executor) (MigrationInfo, error) {
	var i MigrationInfo
	err := run(ctx, e, "query-migrate", nil, &i)
	return i, err
}

// MigrationCapability is one entry of migrate-set-capabilities.
type MigrationCapability struct {
	Capability string `json:"capability"`
	State      bool   `json:"state"`
}

// MigrateSetCapabilities runs migrate-set-capabilities.
func MigrateSetCapabilities(ctx context.Context, e Executor, caps []MigrationCapability) error {
	return run(ctx, e, "migrate-set-capabilities", struct {
		Capabilities []MigrationCapability `json:"capabilities"`
	}{caps}, nil)
}

// MigrateParameters are the parameters govirt sets with
// migrate-set-parameters; nil members are left as they are.
type MigrateParameters struct {
	MaxBandwidth *uint64 `json:"max-bandwidth,omitempty"` // bytes/s
}

// MigrateSetParameters runs migrate-set-parameters.
func MigrateSetParameters(ctx context.Context, e Executor, p MigrateParameters) error {
	return run(ctx, e, "migrate-set-parameters", p, nil)
}
