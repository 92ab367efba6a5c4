package sasl

import (
	"bytes"
	"crypto/pbkdf2"
	"crypto/subtle"
	"errors"
	"fmt"
)

// plain is RFC 4616's PLAIN: the password travels in clear, so it is only
// offered where the channel is secure. It is checked against the user's
// SCRAM-SHA-256 verifier (or SCRAM-SHA-1's), never a stored password.
type plain struct {
	users *Users
	user  string
	asked bool
}

func (p *plain) username() string { return p.user }
func (p *plain) layer() *Layer    { return nil }

// ParsePlain splits authzid NUL authcid NUL passwd.
func ParsePlain(in []byte) (authz, user, pass string, err error) {
	f := bytes.Split(in, []byte{0})
	if len(f) != 3 || len(f[1]) == 0 || len(f[1]) > 255 || len(f[2]) > 1024 {
		return "", "", "", errors.New("malformed PLAIN message")
	}
	return string(f[0]), string(f[1]), string(f[2]), nil
}

func (p *plain) step(in []byte) ([]byte, bool, error) {
	if in == nil {
		if p.asked {
			return nil, false, errors.New("PLAIN client sent no credentials")
		}
		p.asked = true
		return []byte{}, false, nil
	}
	authz, user, pass, err := ParsePlain(in)
	if err != nil {
		return nil, false, err
	}
	if authz != "" && authz != user {
		return nil, false, errors.New("authorization identity differs from the user")
	}
	p.user = user
	u := p.users.Lookup(user)
	if u == nil {
		return nil, false, fmt.Errorf("no user %q", user)
	}
	for _, mech := range []string{MechSCRAMSHA256, MechSCRAMSHA1} {
		v, ok := u.scram[mech]
		if !ok {
			continue
		}
		h := scramHash(mech)
		salted, err := pbkdf2.Key(h, pass, v.Salt, v.Iter, h().Size())
		if err != nil {
			return nil, false, err
		}
		hh := h()
		hh.Write(hmacSum(h, salted, []byte("Client Key")))
		if subtle.ConstantTimeCompare(hh.Sum(nil), v.StoredKey) != 1 {
			return nil, false, fmt.Errorf("wrong password for user %q", user)
		}
		return nil, true, nil
	}
	return nil, false, fmt.Errorf("no SCRAM verifier for user %q", user)
}
