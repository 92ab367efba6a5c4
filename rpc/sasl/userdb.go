// Package sasl is libvirt's SASL authentication without libsasl, the
// server side (client.go holds the client side, for govirt's own
// connections to other daemons): the SCRAM-SHA-256 and SCRAM-SHA-1 (RFC 5802, 7677),
// DIGEST-MD5 (RFC 2831, with its integrity and confidentiality layer) and
// PLAIN mechanisms, checked against a user file that holds only salted
// verifiers, never a clear password.
package sasl

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/md5"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
)

// DefaultIterations is the PBKDF2 count new SCRAM verifiers get (RFC 7677
// asks for at least 4096).
const DefaultIterations = 4096

// DefaultRealm is the DIGEST-MD5 realm when none is configured. libvirt's
// sasldb uses the host name; a fixed name keeps the stored hashes valid
// when the host is renamed.
const DefaultRealm = "govirt"

// scramVerifier is what SCRAM needs of a password (RFC 5802 section 3).
type scramVerifier struct {
	Iter      int
	Salt      []byte
	StoredKey []byte
	ServerKey []byte
}

// User is one account of the user file.
type User struct {
	Name  string
	scram map[string]scramVerifier // by mechanism: "SCRAM-SHA-256", "SCRAM-SHA-1"
	// digest is H(username ":" realm ":" password) per realm
	// (RFC 2831's first half of A1).
	digest map[string][]byte
}

// Users is the user file's content.
type Users struct {
	byName map[string]*User
}

// scramHash returns the hash of a SCRAM mechanism.
func scramHash(mech string) func() hash.Hash {
	switch mech {
	case "SCRAM-SHA-256":
		return sha256.New
	case "SCRAM-SHA-1":
		return sha1.New
	}
	return nil
}

// Lookup returns the user or nil.
func (u *Users) Lookup(name string) *User {
	if u == nil {
		return nil
	}
	return u.byName[name]
}

// Names lists the users, sorted.
func (u *Users) Names() []string {
	var out []string
	for n := range u.byName {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// NewUsers returns an empty user set.
func NewUsers() *Users { return &Users{byName: map[string]*User{}} }

// ParseUsers reads a user file: one verifier a line, `#` comments,
//
//	NAME scram-sha-256 ITER SALT STOREDKEY SERVERKEY   (base64)
//	NAME scram-sha-1   ITER SALT STOREDKEY SERVERKEY
//	NAME digest-md5    REALM HEX(MD5(NAME:REALM:PASSWORD))
func ParseUsers(r io.Reader) (*Users, error) {
	us := NewUsers()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), 64<<10)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || text[0] == '#' {
			continue
		}
		if err := us.parseLine(strings.Fields(text)); err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return us, nil
}

func (us *Users) parseLine(f []string) error {
	if len(f) < 2 {
		return errors.New("expected NAME MECHANISM ...")
	}
	name, mech := f[0], strings.ToUpper(f[1])
	if !validName(name) {
		return fmt.Errorf("invalid user name %q", name)
	}
	u := us.byName[name]
	if u == nil {
		u = &User{Name: name, scram: map[string]scramVerifier{}, digest: map[string][]byte{}}
		us.byName[name] = u
	}
	switch mech {
	case "SCRAM-SHA-256", "SCRAM-SHA-1":
		if len(f) != 6 {
			return fmt.Errorf("%s wants ITER SALT STOREDKEY SERVERKEY", f[1])
		}
		iter, err := strconv.Atoi(f[2])
		if err != nil || iter < 1 || iter > 10_000_000 {
			return fmt.Errorf("invalid iteration count %q", f[2])
		}
		var v scramVerifier
		v.Iter = iter
		size := scramHash(mech)().Size()
		for i, dst := range []*[]byte{&v.Salt, &v.StoredKey, &v.ServerKey} {
			b, err := base64.StdEncoding.DecodeString(f[3+i])
			if err != nil || len(b) == 0 || (i > 0 && len(b) != size) {
				return fmt.Errorf("invalid base64 field %q", f[3+i])
			}
			*dst = b
		}
		u.scram[mech] = v
	case "DIGEST-MD5":
		if len(f) != 4 {
			return errors.New("DIGEST-MD5 wants REALM HASH")
		}
		b, err := hex.DecodeString(f[3])
		if err != nil || len(b) != md5.Size {
			return fmt.Errorf("invalid hash %q", f[3])
		}
		u.digest[f[2]] = b
	default:
		return fmt.Errorf("unknown mechanism %q", f[1])
	}
	return nil
}

// validName keeps names printable and free of the file's separators.
func validName(s string) bool {
	if s == "" || len(s) > 255 {
		return false
	}
	for _, r := range s {
		if r <= ' ' || r == 0x7f || r == '#' {
			return false
		}
	}
	return true
}

// LoadUsers reads the user file at path.
func LoadUsers(path string) (*Users, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	us, err := ParseUsers(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return us, nil
}

// SetPassword gives name verifiers for every mechanism, replacing the old
// ones. The password itself is not kept.
func (us *Users) SetPassword(name, password, realm string, iter int) error {
	if !validName(name) {
		return fmt.Errorf("invalid user name %q", name)
	}
	if realm == "" {
		realm = DefaultRealm
	}
	if !validName(realm) || strings.ContainsAny(realm, `"\\,`) {
		return fmt.Errorf("invalid realm %q", realm)
	}
	if iter <= 0 {
		iter = DefaultIterations
	}
	u := &User{Name: name, scram: map[string]scramVerifier{}, digest: map[string][]byte{}}
	for _, mech := range []string{"SCRAM-SHA-256", "SCRAM-SHA-1"} {
		salt := make([]byte, 16)
		if _, err := rand.Read(salt); err != nil {
			return err
		}
		v, err := makeVerifier(mech, password, salt, iter)
		if err != nil {
			return err
		}
		u.scram[mech] = v
	}
	u.digest[realm] = digestHA0(name, realm, password)
	us.byName[name] = u
	return nil
}

// Delete removes a user; it reports whether there was one.
func (us *Users) Delete(name string) bool {
	_, ok := us.byName[name]
	delete(us.byName, name)
	return ok
}

func makeVerifier(mech, password string, salt []byte, iter int) (scramVerifier, error) {
	h := scramHash(mech)
	salted, err := pbkdf2.Key(h, password, salt, iter, h().Size())
	if err != nil {
		return scramVerifier{}, err
	}
	clientKey := hmacSum(h, salted, []byte("Client Key"))
	serverKey := hmacSum(h, salted, []byte("Server Key"))
	hh := h()
	hh.Write(clientKey)
	return scramVerifier{Iter: iter, Salt: salt, StoredKey: hh.Sum(nil), ServerKey: serverKey}, nil
}

func digestHA0(name, realm, password string) []byte {
	s := md5.Sum([]byte(name + ":" + realm + ":" + password))
	return s[:]
}

func hmacSum(h func() hash.Hash, key, msg []byte) []byte {
	m := hmac.New(h, key)
	m.Write(msg)
	return m.Sum(nil)
}

// Format writes the file back, users sorted.
func (us *Users) Format() []byte {
	var b bytes.Buffer
	b.WriteString("# govirt SASL users: salted verifiers only (govirtd sasl-passwd)\n")
	enc := base64.StdEncoding.EncodeToString
	for _, n := range us.Names() {
		u := us.byName[n]
		for _, mech := range []string{"SCRAM-SHA-256", "SCRAM-SHA-1"} {
			if v, ok := u.scram[mech]; ok {
				fmt.Fprintf(&b, "%s %s %d %s %s %s\n", n, strings.ToLower(mech), v.Iter, enc(v.Salt), enc(v.StoredKey), enc(v.ServerKey))
			}
		}
		var realms []string
		for r := range u.digest {
			realms = append(realms, r)
		}
		sort.Strings(realms)
		for _, r := range realms {
			fmt.Fprintf(&b, "%s digest-md5 %s %s\n", n, r, hex.EncodeToString(u.digest[r]))
		}
	}
	return b.Bytes()
}
