package driver

import "os"

// DomainFileStarter starts a guest handing it descriptors the client
// passed (virDomainCreateXMLWithFiles, virDomainCreateWithFiles). The
// files are the caller's: closed when the call returns, so a driver dups
// what it keeps.
type DomainFileStarter interface {
	DomainCreateXMLWithFiles(xml string, files []*os.File, flags uint32) (Domain, error)
	DomainCreateWithFiles(d Domain, files []*os.File, flags uint32) (Domain, error)
}

// DomainFDAssociator keeps descriptors a client passed under a group
// name for the guest's <source fdgroup='NAME'> (virDomainFDAssociate)
// for as long as the connection lives. The files are the caller's, as
// for DomainFileStarter.
type DomainFDAssociator interface {
	DomainFDAssociate(d Domain, name string, files []*os.File, flags uint32) error
}
