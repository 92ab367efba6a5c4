package sasl

import (
	"crypto/md5"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Maxbuf is the largest security-layer packet govirt accepts and
// announces (libvirt's SASL maxbufsize).
const Maxbuf = 65536

// DigestCiphers are the confidentiality ciphers offered on plain TCP,
// strongest first; cyrus's client picks the strongest it also has.
var DigestCiphers = []string{"rc4", "3des"}

// digest is RFC 2831's DIGEST-MD5, server-first: a challenge, the
// client's digest-response, then rspauth with the completion.
type digest struct {
	realm, service string
	users          *Users
	needLayer      bool // plain TCP: only auth-conf is offered
	ciphers        []string
	state          int
	nonce          string

	user string
	lay  *Layer
}

func newDigest(realm, service string, users *Users, needLayer bool, ciphers []string) (*digest, error) {
	if ciphers == nil {
		ciphers = DigestCiphers
	}
	n, err := newNonce(24)
	if err != nil {
		return nil, err
	}
	return &digest{realm: realm, service: service, users: users, needLayer: needLayer, ciphers: ciphers,
		nonce: n}, nil
}

func (d *digest) username() string { return d.user }
func (d *digest) layer() *Layer    { return d.lay }

func (d *digest) challenge() string {
	qop, ciphers := "auth", ""
	if d.needLayer {
		qop = "auth-conf"
		ciphers = `,cipher="` + strings.Join(d.ciphers, ",") + `"`
	}
	return fmt.Sprintf(`realm="%s",nonce="%s",qop="%s"%s,maxbuf=%d,charset=utf-8,algorithm=md5-sess`,
		d.realm, d.nonce, qop, ciphers, Maxbuf)
}

func (d *digest) step(in []byte) ([]byte, bool, error) {
	switch d.state {
	case 0:
		d.state = 1
		// A client's initial response would be a reauthentication,
		// which is not supported: start over with a challenge.
		return []byte(d.challenge()), false, nil
	case 1:
		d.state = 2
		out, err := d.response(in)
		return out, err == nil, err
	}
	return nil, false, errors.New("DIGEST-MD5 exchange already over")
}

// ParseDirectives reads RFC 2831's comma-separated name=value list
// (values optionally quoted, with backslash escapes). A directive given
// twice is refused.
func ParseDirectives(s string) (map[string]string, error) {
	out := map[string]string{}
	i := 0
	for {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == ',') {
			i++
		}
		if i >= len(s) {
			return out, nil
		}
		eq := strings.IndexByte(s[i:], '=')
		if eq <= 0 {
			return nil, errors.New("directive without a value")
		}
		name := strings.ToLower(strings.TrimSpace(s[i : i+eq]))
		i += eq + 1
		for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
			i++
		}
		var val strings.Builder
		if i < len(s) && s[i] == '"' {
			i++
			closed := false
			for i < len(s) {
				c := s[i]
				i++
				if c == '\\' && i < len(s) {
					val.WriteByte(s[i])
					i++
					continue
				}
				if c == '"' {
					closed = true
					break
				}
				val.WriteByte(c)
			}
			if !closed {
				return nil, errors.New("unterminated quoted value")
			}
		} else {
			for i < len(s) && s[i] != ',' {
				val.WriteByte(s[i])
				i++
			}
		}
		if _, dup := out[name]; dup {
			return nil, fmt.Errorf("directive %s given twice", name)
		}
		out[name] = strings.TrimSpace(val.String())
		for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
			i++
		}
		if i < len(s) && s[i] != ',' {
			return nil, errors.New("garbage after a directive")
		}
	}
}

func (d *digest) response(in []byte) ([]byte, error) {
	if len(in) > 4096 {
		return nil, errors.New("digest-response too long")
	}
	dir, err := ParseDirectives(string(in))
	if err != nil {
		return nil, err
	}
	user, realm := dir["username"], dir["realm"]
	d.user = user
	if user == "" {
		return nil, errors.New("digest-response has no username")
	}
	if _, ok := dir["realm"]; ok && realm != d.realm {
		return nil, fmt.Errorf("unknown realm %q", realm)
	}
	realm = d.realm
	if dir["nonce"] != d.nonce {
		return nil, errors.New("nonce mismatch")
	}
	if dir["nc"] != "00000001" {
		return nil, errors.New("bad nonce count")
	}
	cnonce := dir["cnonce"]
	if cnonce == "" {
		return nil, errors.New("digest-response has no cnonce")
	}
	qop := dir["qop"]
	if qop == "" {
		qop = "auth"
	}
	wantQop := "auth"
	if d.needLayer {
		wantQop = "auth-conf"
	}
	if qop != wantQop {
		return nil, fmt.Errorf("quality of protection %q not offered", qop)
	}
	uri := dir["digest-uri"]
	if !strings.HasPrefix(uri, d.service+"/") {
		return nil, fmt.Errorf("digest-uri %q is not for service %s", uri, d.service)
	}
	authz, hasAuthz := dir["authzid"]
	if hasAuthz && authz != user {
		return nil, errors.New("authorization identity differs from the user")
	}
	resp, err := hex.DecodeString(dir["response"])
	if err != nil || len(resp) != 16 {
		return nil, errors.New("bad response value")
	}
	clientMax := Maxbuf
	if mb, ok := dir["maxbuf"]; ok {
		n, err := strconv.Atoi(mb)
		if err != nil || n < 16 || n > 16<<20 {
			return nil, errors.New("bad maxbuf")
		}
		clientMax = n
	}
	cipher := dir["cipher"]
	if d.needLayer {
		found := false
		for _, c := range d.ciphers {
			found = found || c == cipher
		}
		if !found {
			return nil, fmt.Errorf("cipher %q not offered", cipher)
		}
	}

	u := d.users.Lookup(user)
	var ha0 []byte
	if u != nil {
		ha0 = u.digest[realm]
	}
	if ha0 == nil {
		return nil, fmt.Errorf("no DIGEST-MD5 secret for user %q in realm %q", user, realm)
	}
	a1 := string(ha0) + ":" + d.nonce + ":" + cnonce
	if hasAuthz {
		a1 += ":" + authz
	}
	ha1 := md5.Sum([]byte(a1))
	suffix := ""
	if qop != "auth" {
		suffix = ":00000000000000000000000000000000"
	}
	kd := func(a2 string) string {
		ha2 := md5.Sum([]byte(a2))
		s := md5.Sum([]byte(hex.EncodeToString(ha1[:]) + ":" + d.nonce + ":" + dir["nc"] + ":" + cnonce + ":" + qop + ":" + hex.EncodeToString(ha2[:])))
		return hex.EncodeToString(s[:])
	}
	want := kd("AUTHENTICATE:" + uri + suffix)
	if subtle.ConstantTimeCompare([]byte(want), []byte(hex.EncodeToString(resp))) != 1 {
		return nil, fmt.Errorf("wrong password for user %q", user)
	}
	if qop == "auth-conf" {
		if d.lay, err = newDigestLayer(ha1[:], cipher, clientMax); err != nil {
			return nil, err
		}
	}
	return []byte("rspauth=" + kd(":"+uri+suffix)), nil
}
