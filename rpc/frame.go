package rpc

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"govirt/rpc/xdr"
)

// Header is virNetMessageHeader.
type Header struct {
	Prog   uint32
	Vers   uint32
	Proc   int32
	Type   MsgType
	Serial uint32
	Status Status
}

// Frame errors. ErrFrameLength means the stream can no longer be trusted
// to be in sync, so the connection must be dropped.
var (
	ErrFrameLength = errors.New("rpc: invalid message length")
	ErrFrameType   = errors.New("rpc: invalid message type")
)

func (h *Header) put(b []byte) {
	binary.BigEndian.PutUint32(b[0:], h.Prog)
	binary.BigEndian.PutUint32(b[4:], h.Vers)
	binary.BigEndian.PutUint32(b[8:], uint32(h.Proc))
	binary.BigEndian.PutUint32(b[12:], uint32(h.Type))
	binary.BigEndian.PutUint32(b[16:], h.Serial)
	binary.BigEndian.PutUint32(b[20:], uint32(h.Status))
}

// ParseHeader decodes a header from the first HeaderSize bytes of b.
func ParseHeader(b []byte) (Header, error) {
	if len(b) < HeaderSize {
		return Header{}, ErrFrameLength
	}
	return Header{
		Prog:   binary.BigEndian.Uint32(b[0:]),
		Vers:   binary.BigEndian.Uint32(b[4:]),
		Proc:   int32(binary.BigEndian.Uint32(b[8:])),
		Type:   MsgType(binary.BigEndian.Uint32(b[12:])),
		Serial: binary.BigEndian.Uint32(b[16:]),
		Status: Status(binary.BigEndian.Uint32(b[20:])),
	}, nil
}

// checkLength validates a length word read off the wire.
func checkLength(n uint32) error {
	if n < LenSize+HeaderSize || n > MessageMax {
		return fmt.Errorf("%w: %d", ErrFrameLength, n)
	}
	return nil
}

// DecodeFrame parses one complete frame (length word included) and returns
// the header and a body slice aliasing frame.
func DecodeFrame(frame []byte) (Header, []byte, error) {
	if len(frame) < LenSize {
		return Header{}, nil, ErrFrameLength
	}
	n := binary.BigEndian.Uint32(frame)
	if err := checkLength(n); err != nil {
		return Header{}, nil, err
	}
	if uint64(n) != uint64(len(frame)) {
		return Header{}, nil, ErrFrameLength
	}
	h, err := ParseHeader(frame[LenSize:])
	if err != nil {
		return h, nil, err
	}
	if !h.Type.valid() {
		return h, nil, ErrFrameType
	}
	return h, frame[LenSize+HeaderSize:], nil
}

// ReadFrame reads one frame from r. The body is freshly allocated because
// it outlives the read (handlers run concurrently with the next read).
// scratch must hold at least LenSize+HeaderSize bytes. The length word is
// checked before anything else is read, so a bogus length is rejected at
// once instead of waiting for bytes that will never come. The body's
// storage grows as bytes arrive, so a peer that claims a large message
// and sends little of it costs little.
func ReadFrame(r io.Reader, scratch []byte) (Header, []byte, error) {
	scratch = scratch[:LenSize+HeaderSize]
	if _, err := io.ReadFull(r, scratch[:LenSize]); err != nil {
		return Header{}, nil, err
	}
	n := binary.BigEndian.Uint32(scratch)
	if err := checkLength(n); err != nil {
		return Header{}, nil, err
	}
	if _, err := io.ReadFull(r, scratch[LenSize:]); err != nil {
		return Header{}, nil, unexpectedEOF(err)
	}
	h, _ := ParseHeader(scratch[LenSize:])
	body, err := readGrowing(r, int(n)-LenSize-HeaderSize, 0, nil)
	return h, body, err
}

// bodyChunk is the first allocation for a body that has not arrived yet;
// later ones double, so the copying stays linear in the body size.
const bodyChunk = 4 << 10

// readGrowing reads exactly n bytes, allocating only as they arrive.
// have is how many are known to be readable at once (buffered); before
// each read that may block, arm (if set) is called.
func readGrowing(r io.Reader, n, have int, arm func()) ([]byte, error) {
	if n <= have || n <= bodyChunk {
		body := make([]byte, n)
		if n > have && arm != nil {
			arm()
		}
		if _, err := io.ReadFull(r, body); err != nil {
			return nil, unexpectedEOF(err)
		}
		return body, nil
	}
	body := make([]byte, 0, max(have, bodyChunk))
	for len(body) < n {
		if len(body) == cap(body) {
			grown := make([]byte, len(body), min(n, 2*cap(body)))
			copy(grown, body)
			body = grown
		}
		if arm != nil {
			arm()
		}
		m, err := r.Read(body[len(body):cap(body)])
		body = body[:len(body)+m]
		if err != nil && len(body) < n {
			return nil, unexpectedEOF(err)
		}
	}
	return body, nil
}

func unexpectedEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// NewFrame starts a frame in buf (reusing its storage) with space for the
// length word and h; append the body via the returned Encoder, then call
// FinishFrame.
func NewFrame(buf []byte, h Header) *xdr.Encoder {
	buf = append(buf[:0], make([]byte, LenSize+HeaderSize)...)
	h.put(buf[LenSize:])
	return xdr.NewEncoder(buf)
}

// FinishFrame fills in the length word and returns the frame bytes.
func FinishFrame(e *xdr.Encoder) ([]byte, error) {
	b := e.Bytes()
	if len(b) > MessageMax {
		return nil, fmt.Errorf("%w: outgoing message of %d bytes exceeds %d", ErrFrameLength, len(b), MessageMax)
	}
	binary.BigEndian.PutUint32(b, uint32(len(b)))
	return b, nil
}

// EncodeFrame builds a frame whose body is the XDR encoding of body (nil
// for an empty body).
func EncodeFrame(buf []byte, h Header, body any) ([]byte, error) {
	e := NewFrame(buf, h)
	if err := e.Encode(body); err != nil {
		return nil, err
	}
	return FinishFrame(e)
}

// RawFrame builds a frame whose body is raw bytes (stream data, or a body
// the caller encoded already).
func RawFrame(buf []byte, h Header, body []byte) ([]byte, error) {
	e := NewFrame(buf, h)
	e.Raw(body)
	return FinishFrame(e)
}
