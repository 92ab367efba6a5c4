// Package rpc speaks libvirt's RPC wire protocol: framing, the message
// header, remote_error, and a server connection loop that hands calls to a
// Handler supplied by the dispatch layer.
package rpc

import "govirt/rpc/procs"

// Programs, from the .x files (generated in rpc/procs).
const (
	ProgramRemote    = procs.ProgramRemote
	ProgramQEMU      = procs.ProgramQemu
	ProgramLXC       = procs.ProgramLxc
	ProgramKeepalive = procs.ProgramKeepalive
	ProgramAdmin     = procs.ProgramAdmin

	// Every program above is at protocol version 1.
	ProtocolVersion uint32 = 1
)

// Keepalive procedures.
const (
	KeepalivePing = procs.KeepalivePing
	KeepalivePong = procs.KeepalivePong
)

// MsgType is virNetMessageType.
type MsgType int32

const (
	TypeCall         MsgType = 0
	TypeReply        MsgType = 1
	TypeMessage      MsgType = 2
	TypeStream       MsgType = 3
	TypeCallWithFDs  MsgType = 4
	TypeReplyWithFDs MsgType = 5
	TypeStreamHole   MsgType = 6
)

func (t MsgType) valid() bool { return t >= TypeCall && t <= TypeStreamHole }

// Status is virNetMessageStatus.
type Status int32

const (
	StatusOK       Status = 0
	StatusError    Status = 1
	StatusContinue Status = 2
)

// Size limits, as in virnetprotocol.x.
const (
	// MessageMax bounds a whole frame, length word included.
	MessageMax = 33554432
	// LenSize is the length word, HeaderSize the fixed header after it.
	LenSize    = 4
	HeaderSize = 24
	// PayloadMax is what is left for the body.
	PayloadMax = MessageMax - LenSize - HeaderSize
	// StreamChunkMax is VIR_NET_MESSAGE_LEGACY_PAYLOAD_MAX, the largest data
	// chunk libvirt puts in one STREAM message; we never send more.
	StreamChunkMax = 262120
	// StringMax is REMOTE_STRING_MAX.
	StringMax = 4194304
)

// Feature number clients probe with CONNECT_SUPPORTS_FEATURE before relying
// on keepalive (VIR_DRV_FEATURE_PROGRAM_KEEPALIVE).
const FeatureProgramKeepalive = 10
