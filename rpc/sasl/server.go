package sasl

import (
	"errors"
	"strings"
)

// Mechanism names, as SASL spells them.
const (
	MechSCRAMSHA256 = "SCRAM-SHA-256"
	MechSCRAMSHA1   = "SCRAM-SHA-1"
	MechDigestMD5   = "DIGEST-MD5"
	MechPlain       = "PLAIN"
)

// AllMechanisms are the mechanisms govirt implements, in the order they
// are offered.
var AllMechanisms = []string{MechSCRAMSHA256, MechSCRAMSHA1, MechDigestMD5, MechPlain}

// MinSSF is the strength libvirt demands of a layer on plain TCP (56,
// "good for Kerberos"); only DIGEST-MD5's confidentiality layer reaches it.
const MinSSF = 56

// Config is the server's SASL policy, shared by every connection.
type Config struct {
	// Mechanisms restricts the mechanisms offered (nil: all).
	Mechanisms []string
	// Realm is DIGEST-MD5's realm (empty: DefaultRealm).
	Realm string
	// Service is the digest-uri service a DIGEST-MD5 client must name
	// ("libvirt", libvirt's SASL service name).
	Service string
	// DigestCiphers restricts DIGEST-MD5's ciphers on plain TCP (nil:
	// rc4 and 3des).
	DigestCiphers []string
	// Users returns the current user set; it is called at each login so
	// an edited user file takes effect without a restart.
	Users func() (*Users, error)
}

// ErrAuth is any failed authentication; the details go to Session.Reason.
var ErrAuth = errors.New("sasl: authentication failed")

// Session is one client's negotiation (libvirt's virNetSASLSession on
// the server side). Not safe for concurrent use.
type Session struct {
	cfg    *Config
	secure bool // unix socket or TLS: no layer needed, PLAIN allowed
	mech   mechanism
	name   string // the mechanism chosen
	user   string
	layer  *Layer
	reason string
	done   bool
}

// mechanism is one negotiation in progress: step takes the client's data
// (nil when the client sent none) and returns the server's (nil for none)
// and whether the exchange is over.
type mechanism interface {
	step(in []byte) (out []byte, done bool, err error)
	username() string
	layer() *Layer
}

// NewSession starts a negotiation; secure is libvirt's
// virNetServerClientIsSecure (unix sockets, TLS).
func (c *Config) NewSession(secure bool) *Session {
	return &Session{cfg: c, secure: secure}
}

func (c *Config) realm() string {
	if c.Realm == "" {
		return DefaultRealm
	}
	return c.Realm
}

func (c *Config) service() string {
	if c.Service == "" {
		return "libvirt"
	}
	return c.Service
}

// Mechanisms is the comma-separated list a client may choose from: on a
// plain TCP socket only those with a security layer of at least MinSSF
// (and never PLAIN), as libvirt's security properties select them.
func (s *Session) Mechanisms() string {
	var out []string
	for _, m := range AllMechanisms {
		if !s.offers(m) {
			continue
		}
		out = append(out, m)
	}
	return strings.Join(out, ",")
}

func (s *Session) offers(mech string) bool {
	if s.cfg.Mechanisms != nil {
		found := false
		for _, m := range s.cfg.Mechanisms {
			if strings.EqualFold(m, mech) {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	if !s.secure {
		return mech == MechDigestMD5
	}
	return true
}

// Start begins mechanism mech with the client's first data (nil when it
// sent none, which differs from empty data).
func (s *Session) Start(mech string, in []byte) ([]byte, bool, error) {
	if s.mech != nil || s.done {
		return nil, false, s.fail("negotiation already started")
	}
	if !s.offers(mech) {
		return nil, false, s.fail("mechanism " + mech + " not offered")
	}
	users, err := s.cfg.Users()
	if err != nil {
		return nil, false, s.fail("user database: " + err.Error())
	}
	s.name = mech
	switch mech {
	case MechSCRAMSHA256, MechSCRAMSHA1:
		s.mech = newSCRAM(mech, users)
	case MechDigestMD5:
		s.mech, err = newDigest(s.cfg.realm(), s.cfg.service(), users, !s.secure, s.cfg.DigestCiphers)
		if err != nil {
			return nil, false, s.fail(err.Error())
		}
	case MechPlain:
		s.mech = &plain{users: users}
	}
	return s.Step(in)
}

// Step continues the negotiation.
func (s *Session) Step(in []byte) ([]byte, bool, error) {
	if s.mech == nil || s.done {
		return nil, false, s.fail("no negotiation in progress")
	}
	out, done, err := s.mech.step(in)
	if err != nil {
		return nil, false, s.fail(err.Error())
	}
	if done {
		s.done = true
		s.user = s.mech.username()
		s.layer = s.mech.layer()
	}
	return out, done, nil
}

func (s *Session) fail(reason string) error {
	s.reason = reason
	s.mech = nil
	s.done = true
	return ErrAuth
}

// Reason says why the last call failed, for the daemon's log.
func (s *Session) Reason() string { return s.reason }

// Mechanism is the mechanism the client chose.
func (s *Session) Mechanism() string { return s.name }

// Username is the authenticated user once the negotiation is over.
func (s *Session) Username() string { return s.user }

// SSF is the negotiated layer's strength in bits (0: none).
func (s *Session) SSF() int {
	if s.layer == nil {
		return 0
	}
	return s.layer.ssf
}

// Layer is the negotiated security layer, or nil.
func (s *Session) Layer() *Layer { return s.layer }
