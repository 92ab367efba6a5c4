// Package qmp is the QEMU Machine Protocol client used by the QEMU driver.
//
// A Monitor wraps one connection to one QEMU process. Dial (or New, for a
// connection the caller already holds) reads QEMU's greeting, negotiates
// capabilities with qmp_capabilities and only then returns, so a Monitor is
// always in command mode.
//
// # Goroutines
//
// Each Monitor runs exactly two goroutines:
//
//   - the reader owns the socket for reading. It splits QEMU's output into
//     lines, hands replies to the Execute call waiting for them and appends
//     events to the event queue. It never runs caller code, so a slow event
//     handler cannot delay a reply.
//   - the event delivery goroutine drains an unbounded queue and calls
//     Options.OnEvent, then Options.OnEOF last.
//
// Writes happen on the caller's goroutine, one at a time. Because replies
// never wait for the delivery goroutine, OnEvent and OnEOF may call Execute
// and Close.
//
// # Ordering
//
// Commands are written in the order their Execute calls obtain the write
// slot; concurrent callers are therefore ordered, but not in any order the
// caller can rely on beyond "one after another". Every command carries an id
// assigned by the Monitor ("govirt-1", "govirt-2", ...) and a reply is matched
// to its caller by that id alone, never by position, so QEMU answering out of
// order (as it may with out-of-band commands) is harmless.
//
// Events reach OnEvent in exactly the order QEMU sent them, one call at a
// time, none dropped however slow the handler is. OnEOF is called exactly
// once, after every event read before the connection went away has been
// delivered and OnEvent has returned for it. Neither callback is ever called
// if New or Dial fails.
//
// # Deadlines and cancellation
//
// Every command has a deadline: the earlier of the context's deadline and
// the command's entry in the timeout table (DefaultTimeouts, overridden by
// Options.Timeouts), or the timeout given with WithTimeout, which
// replaces the table entry for commands run under that context. When it passes, Execute returns an error matching both
// ErrTimeout and context.DeadlineExceeded; when the context is cancelled it
// returns one matching context.Canceled. Either way the id is forgotten:
// the late reply, if QEMU ever sends it, is discarded by the reader and is
// never delivered to another caller. The command itself may still have run
// in QEMU; QMP has no way to cancel it.
//
// A write that is cut short leaves a partial command in QEMU's parser, after
// which nothing on the stream can be trusted, so the Monitor closes itself.
//
// # Closing
//
// The Monitor goes away when QEMU closes the socket, when QEMU sends
// something that is not JSON (ErrProtocol), or when Close is called. From
// then on pending and later Execute calls fail with an error matching
// ErrClosed. Close is idempotent and does not wait for the event handlers,
// so it may be called from inside them; Done reports when they have
// finished.
//
// # File descriptors
//
// ExecuteWithFiles attaches descriptors to the command bytes with
// SCM_RIGHTS, which is how QEMU's getfd and add-fd receive them. It needs a
// Unix socket.
package qmp
