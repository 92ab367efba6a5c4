// Package uuid is the 16-byte identifier libvirt gives every object.
package uuid

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strings"
)

// UUID is raw: the wire carries these 16 bytes as-is.
type UUID [16]byte

var ErrSyntax = errors.New("invalid UUID")

// New returns a random (version 4) UUID.
func New() UUID {
	var u UUID
	_, _ = rand.Read(u[:])
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return u
}

// Parse accepts the forms libvirt accepts: 32 hex digits, optionally
// separated by '-' or spaces anywhere, with surrounding spaces.
func Parse(s string) (UUID, error) {
	var u UUID
	s = strings.TrimSpace(s)
	digits := make([]byte, 0, 32)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '-' || c == ' ' {
			continue
		}
		digits = append(digits, c)
	}
	if len(digits) != 32 {
		return u, ErrSyntax
	}
	if _, err := hex.Decode(u[:], digits); err != nil {
		return u, ErrSyntax
	}
	return u, nil
}

func (u UUID) String() string {
	var b [36]byte
	hex.Encode(b[0:8], u[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], u[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], u[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], u[8:10])
	b[23] = '-'
	hex.Encode(b[24:], u[10:])
	return string(b[:])
}

func (u UUID) IsZero() bool { return u == UUID{} }
