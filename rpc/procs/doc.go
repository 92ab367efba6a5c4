// Package procs numbers the procedures of libvirt's REMOTE program
// (0x20008086, version 1) as of libvirt 9.0, named in Go style without the
// REMOTE_PROC_ prefix: procs.DomainLookupByName, procs.ConnectListAllDomains.
package procs

//go:generate go run ./internal/genprocs -in remote-procedures-9.0.txt -out procs.go -names names.go

// Name returns libvirt's name for proc ("REMOTE_PROC_CONNECT_OPEN"), or ""
// for numbers libvirt 9.0 does not define.
func Name(proc int32) string {
	if proc < 0 || int(proc) >= len(names) {
		return ""
	}
	return names[proc]
}
