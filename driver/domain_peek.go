package driver

// DomainMemoryPeeker reads guest memory (virDomainMemoryPeek).
type DomainMemoryPeeker interface {
	DomainMemoryPeek(d Domain, offset uint64, size uint32, flags uint32) ([]byte, error)
}

// DomainRenamer renames an inactive persistent domain (virDomainRename).
type DomainRenamer interface {
	DomainRename(d Domain, newName string, flags uint32) error
}
