package driver

// DomainMigrationPostCopier switches a running post-copy capable
// migration to post-copy (virDomainMigrateStartPostCopy).
type DomainMigrationPostCopier interface {
	DomainMigrateStartPostCopy(d Domain, flags uint32) error
}

// MigrationIteration is the payload of EventIDMigrationIteration: the
// number of the memory pass QEMU started.
type MigrationIteration struct{ Iteration int32 }
