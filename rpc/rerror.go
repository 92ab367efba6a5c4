package rpc

import (
	"unicode/utf8"

	"govirt/rpc/xdr"
	"govirt/virerr"
)

// NonnullDomain is remote_nonnull_domain / virNetMessageNonnullDomain.
type NonnullDomain struct {
	Name string
	UUID [16]byte
	ID   int32
}

// NonnullNetwork is remote_nonnull_network.
type NonnullNetwork struct {
	Name string
	UUID [16]byte
}

// RemoteError is remote_error (virNetMessageError). Dom and Net are carried
// for layout compatibility only; libvirt never fills them.
type RemoteError struct {
	Code    int32
	Domain  int32
	Message *string
	Level   int32
	Dom     *NonnullDomain
	Str1    *string
	Str2    *string
	Str3    *string
	Int1    int32
	Int2    int32
	Net     *NonnullNetwork
}

func optStr(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func derefStr(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// ToRemoteError converts any error to the wire form, mapping non-libvirt
// errors to VIR_ERR_INTERNAL_ERROR through virerr.From. The message is
// always present: clients print "unknown error" when it is missing.
func ToRemoteError(err error) *RemoteError {
	e := virerr.From(err)
	if e == nil {
		e = virerr.New(virerr.FromRPC, virerr.ErrInternalError, "%s", "missing error")
	}
	msg := clipString(e.Message)
	level := e.Level
	if level == virerr.LevelNone {
		level = virerr.LevelError
	}
	return &RemoteError{
		Code: int32(e.Code), Domain: int32(e.Domain), Message: &msg, Level: int32(level),
		Str1: optStr(clipString(e.Str1)), Str2: optStr(clipString(e.Str2)), Str3: optStr(clipString(e.Str3)),
		Int1: e.Int1, Int2: e.Int2,
	}
}

// clipString keeps an error string within REMOTE_STRING_MAX: messages
// quote the names clients send, and a name of the maximum length would
// otherwise make the error unencodable, leaving the call unanswered.
func clipString(s string) string {
	if len(s) <= StringMax {
		return s
	}
	n := StringMax - len("...")
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "..."
}

// Err converts a received remote_error into a *virerr.Error.
func (r *RemoteError) Err() *virerr.Error {
	return &virerr.Error{
		Code: virerr.Code(r.Code), Domain: virerr.Domain(r.Domain),
		Message: derefStr(r.Message), Level: virerr.Level(r.Level),
		Str1: derefStr(r.Str1), Str2: derefStr(r.Str2), Str3: derefStr(r.Str3),
		Int1: r.Int1, Int2: r.Int2,
	}
}

// DecodeError parses a remote_error body; a body that does not parse still
// yields an error, so a broken peer cannot make a failure look like success.
func DecodeError(body []byte) *virerr.Error {
	var re RemoteError
	if err := xdr.Unmarshal(body, &re); err != nil {
		return virerr.New(virerr.FromRPC, virerr.ErrRPC, "%s", "Unable to decode message payload")
	}
	return re.Err()
}

// ErrUnknownProc is what libvirt replies for a procedure number its
// program table lacks; clients rely on code VIR_ERR_RPC to fall back.
func ErrUnknownProc(proc int32) *virerr.Error {
	return virerr.New(virerr.FromRPC, virerr.ErrRPC, "unknown procedure: %d", proc)
}

// ErrUnknownProgram mirrors libvirt's reply to a CALL for a program (or
// version) the server does not serve.
func ErrUnknownProgram(prog, vers uint32) *virerr.Error {
	return virerr.New(virerr.FromRPC, virerr.ErrRPC, "Cannot find program %d version %d", int32(prog), int32(vers))
}

// ErrDecodePayload is libvirt's error for arguments that fail XDR decoding.
func ErrDecodePayload() *virerr.Error {
	return virerr.New(virerr.FromRPC, virerr.ErrRPC, "%s", "Unable to decode message payload")
}
