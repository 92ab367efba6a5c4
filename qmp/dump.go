package qmp

import "context"

// DumpGuestMemory runs dump-guest-memory without paging (a raw ELF core
// of guest memory, libvirt's memory-only dump) to protocol ("fd:NAME" or
// "file:PATH"); it returns once the dump is written.
func DumpGuestMemory(ctx context.Context, e Executor, protocol string) error {
	return run(ctx, e, "dump-guest-memory", struct {
		Paging   bool   `json:"paging"`
		Protocol string `json:"protocol"`
	}{false, protocol}, nil)
}
