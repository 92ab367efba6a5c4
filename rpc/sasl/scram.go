package sasl

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"strings"
)

// fakeSecret makes the salt of users that do not exist stable, so the
// first server message does not tell who has an account.
var fakeSecret = func() []byte {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return b
}()

// newNonce makes a server nonce of n random bytes, base64 encoded (a
// variable so tests can replay the RFCs' examples).
var newNonce = func(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawStdEncoding.EncodeToString(b), nil
}

// scram is the server side of RFC 5802: client-first, server-first,
// client-final, then server-final (sent with the completion, as SASL's
// "success data").
type scram struct {
	mech  string
	h     func() hash.Hash
	users *Users
	state int

	user        string
	known       bool
	v           scramVerifier
	gs2Header   string
	clientFirst string // client-first-message-bare
	serverFirst string
	nonce       string
}

func newSCRAM(mech string, users *Users) *scram {
	return &scram{mech: mech, h: scramHash(mech), users: users}
}

func (s *scram) username() string { return s.user }
func (s *scram) layer() *Layer    { return nil }

func (s *scram) step(in []byte) ([]byte, bool, error) {
	switch s.state {
	case 0:
		if in == nil {
			// SCRAM is client-first: an empty challenge asks for it.
			s.state = 1
			return []byte{}, false, nil
		}
		s.state = 1
		fallthrough
	case 1:
		out, err := s.first(in)
		s.state = 2
		return out, false, err
	case 2:
		out, err := s.final(in)
		s.state = 3
		return out, true, err
	}
	return nil, false, errors.New("SCRAM exchange already over")
}

// ParseClientFirst splits a client-first-message into its GS2 header and
// bare part and returns the user name and nonce.
func ParseClientFirst(msg string) (gs2, bare, user, nonce string, err error) {
	// gs2-header = gs2-cbind-flag "," [ authzid ] ","
	flag, rest, ok := strings.Cut(msg, ",")
	if !ok {
		return "", "", "", "", errors.New("malformed client-first-message")
	}
	switch {
	case flag == "n", flag == "y":
	case strings.HasPrefix(flag, "p="):
		return "", "", "", "", errors.New("channel binding is not supported")
	default:
		return "", "", "", "", fmt.Errorf("bad GS2 flag %q", flag)
	}
	authz, bare, ok := strings.Cut(rest, ",")
	if !ok {
		return "", "", "", "", errors.New("malformed client-first-message")
	}
	gs2 = flag + "," + authz + ","
	if bare == "" || strings.HasPrefix(bare, "m=") {
		return "", "", "", "", errors.New("mandatory extensions are not supported")
	}
	attrs := strings.Split(bare, ",")
	if len(attrs) < 2 || !strings.HasPrefix(attrs[0], "n=") || !strings.HasPrefix(attrs[1], "r=") {
		return "", "", "", "", errors.New("malformed client-first-message-bare")
	}
	user, err = decodeSaslname(attrs[0][2:])
	if err != nil {
		return "", "", "", "", err
	}
	nonce = attrs[1][2:]
	if nonce == "" || !printable(nonce) {
		return "", "", "", "", errors.New("bad client nonce")
	}
	if authz != "" {
		a, err := decodeSaslname(strings.TrimPrefix(authz, "a="))
		if err != nil || !strings.HasPrefix(authz, "a=") || a != user {
			return "", "", "", "", errors.New("authorization identity differs from the user")
		}
	}
	return gs2, bare, user, nonce, nil
}

// decodeSaslname undoes RFC 5802's =2C and =3D escapes.
func decodeSaslname(s string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case ',':
			return "", errors.New("bad user name")
		case '=':
			if i+3 > len(s) {
				return "", errors.New("bad escape in user name")
			}
			switch s[i+1 : i+3] {
			case "2C":
				b.WriteByte(',')
			case "3D":
				b.WriteByte('=')
			default:
				return "", errors.New("bad escape in user name")
			}
			i += 2
		default:
			b.WriteByte(s[i])
		}
	}
	if b.Len() == 0 {
		return "", errors.New("empty user name")
	}
	return b.String(), nil
}

// printable is RFC 5802's printable: %x21-2B / %x2D-7E.
func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x21 || c > 0x7e || c == ',' {
			return false
		}
	}
	return true
}

func (s *scram) first(in []byte) ([]byte, error) {
	gs2, bare, user, cnonce, err := ParseClientFirst(string(in))
	if err != nil {
		return nil, err
	}
	s.user, s.gs2Header, s.clientFirst = user, gs2, bare
	if u := s.users.Lookup(user); u != nil {
		s.v, s.known = u.scram[s.mech]
	}
	if !s.known {
		// A made-up salt that stays the same for this name.
		salt := hmacSum(sha256.New, fakeSecret, []byte(s.mech+"\x00"+user))[:16]
		s.v = scramVerifier{Iter: DefaultIterations, Salt: salt}
	}
	snonce, err := newNonce(18)
	if err != nil {
		return nil, err
	}
	s.nonce = cnonce + snonce
	s.serverFirst = fmt.Sprintf("r=%s,s=%s,i=%d", s.nonce, base64.StdEncoding.EncodeToString(s.v.Salt), s.v.Iter)
	return []byte(s.serverFirst), nil
}

// ParseClientFinal returns the message without its proof, and the
// channel binding, nonce and proof it carries.
func ParseClientFinal(msg string) (withoutProof, cbind, nonce string, proof []byte, err error) {
	i := strings.LastIndex(msg, ",p=")
	if i < 0 {
		return "", "", "", nil, errors.New("client-final-message has no proof")
	}
	withoutProof = msg[:i]
	proof, err = base64.StdEncoding.DecodeString(msg[i+3:])
	if err != nil {
		return "", "", "", nil, errors.New("bad proof encoding")
	}
	attrs := strings.Split(withoutProof, ",")
	if len(attrs) < 2 || !strings.HasPrefix(attrs[0], "c=") || !strings.HasPrefix(attrs[1], "r=") {
		return "", "", "", nil, errors.New("malformed client-final-message")
	}
	return withoutProof, attrs[0][2:], attrs[1][2:], proof, nil
}

func (s *scram) final(in []byte) ([]byte, error) {
	withoutProof, cbind, nonce, proof, err := ParseClientFinal(string(in))
	if err != nil {
		return nil, err
	}
	if cbind != base64.StdEncoding.EncodeToString([]byte(s.gs2Header)) {
		return nil, errors.New("channel binding data differs from the GS2 header")
	}
	if nonce != s.nonce {
		return nil, errors.New("nonce mismatch")
	}
	authMsg := []byte(s.clientFirst + "," + s.serverFirst + "," + withoutProof)
	if !s.known {
		return nil, fmt.Errorf("no %s verifier for user %q", s.mech, s.user)
	}
	sig := hmacSum(s.h, s.v.StoredKey, authMsg)
	if len(proof) != len(sig) {
		return nil, errors.New("bad proof length")
	}
	clientKey := make([]byte, len(sig))
	for i := range sig {
		clientKey[i] = proof[i] ^ sig[i]
	}
	hh := s.h()
	hh.Write(clientKey)
	if subtle.ConstantTimeCompare(hh.Sum(nil), s.v.StoredKey) != 1 {
		return nil, fmt.Errorf("wrong password for user %q", s.user)
	}
	serverSig := hmac.New(s.h, s.v.ServerKey)
	serverSig.Write(authMsg)
	return []byte("v=" + base64.StdEncoding.EncodeToString(serverSig.Sum(nil))), nil
}
