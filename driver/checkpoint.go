package driver

// Checkpoint identifies a domain checkpoint.
type Checkpoint struct {
	Dom  Domain
	Name string
}

// Checkpoint flags (virDomainCheckpoint*Flags).
const (
	CheckpointCreateRedefine         = 1 << 0
	CheckpointCreateQuiesce          = 1 << 1
	CheckpointCreateRedefineValidate = 1 << 2

	CheckpointListRoots       = 1 << 0 // DESCENDANTS when listing children
	CheckpointListTopological = 1 << 1
	CheckpointListLeaves      = 1 << 2
	CheckpointListNoLeaves    = 1 << 3

	CheckpointXMLSecure   = 1 << 0
	CheckpointXMLNoDomain = 1 << 1
	CheckpointXMLSize     = 1 << 2

	CheckpointDeleteChildren     = 1 << 0
	CheckpointDeleteMetadataOnly = 1 << 1
	CheckpointDeleteChildrenOnly = 1 << 2
)

// DomainCheckpoints manages checkpoint metadata (virDomainCheckpoint*).
type DomainCheckpoints interface {
	DomainCheckpointCreateXML(d Domain, xml string, flags uint32) (Checkpoint, error)
	DomainListAllCheckpoints(d Domain, flags uint32) ([]Checkpoint, error)
	DomainCheckpointListAllChildren(c Checkpoint, flags uint32) ([]Checkpoint, error)
	DomainCheckpointLookupByName(d Domain, name string, flags uint32) (Checkpoint, error)
	DomainCheckpointGetParent(c Checkpoint, flags uint32) (Checkpoint, error)
	DomainCheckpointGetXMLDesc(c Checkpoint, flags uint32) (string, error)
	DomainCheckpointDelete(c Checkpoint, flags uint32) error
}
