package remote

import (
	"govirt/driver"
	"govirt/rpc/procs"
)

// virDomainMigrateStartPostCopy (virsh migrate-postcopy).
func init() {
	register(true, map[int32]procFunc{
		procs.DomainMigrateStartPostCopy: onFlags(drvDom, driver.DomainMigrationPostCopier.DomainMigrateStartPostCopy),
	})
}
