package driver

// DomainBlockResizer grows or shrinks a running guest's disk
// (virDomainBlockResize).
type DomainBlockResizer interface {
	DomainBlockResize(d Domain, disk string, size uint64, flags uint32) error
}

// DomainRenamer renames an inactive persistent guest (virDomainRename).
type DomainRenamer interface {
	DomainRename(d Domain, newName string, flags uint32) error
}

// DomainCoreDumper writes a guest's core to a host file
// (virDomainCoreDump, virDomainCoreDumpWithFormat). to is absolute.
type DomainCoreDumper interface {
	DomainCoreDump(d Domain, to string, flags uint32) error
	DomainCoreDumpWithFormat(d Domain, to string, format uint32, flags uint32) error
}

// DomainSaveImages reads and rewrites the definition a save image
// carries.
type DomainSaveImages interface {
	DomainSaveImageGetXMLDesc(path string, flags uint32) (string, error)
	DomainSaveImageDefineXML(path, dxml string, flags uint32) error
}

// DomainManagedSaveImages does the same for a guest's managed save image.
type DomainManagedSaveImages interface {
	DomainManagedSaveGetXMLDesc(d Domain, flags uint32) (string, error)
	// DomainManagedSaveDefineXML: dxml "" is libvirt's NULL.
	DomainManagedSaveDefineXML(d Domain, dxml string, flags uint32) error
}

// DomainMemoryPeeker reads guest memory (virDomainMemoryPeek).
type DomainMemoryPeeker interface {
	DomainMemoryPeek(d Domain, offset uint64, size uint32, flags uint32) ([]byte, error)
}

// DomainBlockPeeker reads a disk's contents (virDomainBlockPeek).
type DomainBlockPeeker interface {
	DomainBlockPeek(d Domain, disk string, offset uint64, size uint32, flags uint32) ([]byte, error)
}

// DomainAliasDetacher unplugs a device named by its alias
// (virDomainDetachDeviceAlias).
type DomainAliasDetacher interface {
	DomainDetachDeviceAlias(d Domain, alias string, flags uint32) error
}
