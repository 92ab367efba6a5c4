package sasl

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/pbkdf2"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// The client side of the same mechanisms, for govirt's own connections to
// other daemons (peer-to-peer migration). It shares the server's message
// parsers and the DIGEST-MD5 layer, and chooses a mechanism from the
// server's list the way libvirt's client (through cyrus-sasl) does.

// Credentials are what a client mechanism asks for: libvirt's
// VIR_CRED_AUTHNAME and VIR_CRED_PASSPHRASE (and the realm, used by
// DIGEST-MD5 when set; otherwise the server's is taken).
type Credentials struct {
	Authname, Password, Realm string
}

// mechProps are cyrus-sasl's plugin properties that decide the choice:
// the strongest layer the mechanism can set up and its security flags.
type mechProps struct {
	maxSSF int
	flags  int
}

// cyrus's SASL_SEC_* flags.
const (
	secNoPlaintext = 0x0001
	secNoActive    = 0x0002
	secNoAnonymous = 0x0010
	secMutualAuth  = 0x0040
)

var clientMechs = map[string]mechProps{
	MechSCRAMSHA256: {0, secNoPlaintext | secNoActive | secNoAnonymous | secMutualAuth},
	MechSCRAMSHA1:   {0, secNoPlaintext | secNoActive | secNoAnonymous | secMutualAuth},
	MechDigestMD5:   {128, secNoPlaintext | secNoAnonymous | secMutualAuth},
	MechPlain:       {0, secNoAnonymous},
}

// ErrNoMechanism is cyrus's SASL_NOMECH: nothing in the server's list is
// both known and strong enough.
var ErrNoMechanism = errors.New("SASL(-4): no mechanism available: No worthy mechs found")

// ChooseMechanism picks from the server's comma- or space-separated list
// as sasl_client_start does with libvirt's security properties: on a
// secure channel (TLS, unix socket) anything goes; otherwise the
// mechanism must refuse plain text and anonymous logins and offer a layer
// of at least MinSSF. Among those usable, a later one replaces the best
// so far only if it has all its security flags and a stronger layer or
// more flags: so with govirtd's or libvirtd's lists SCRAM-SHA-256 wins
// on a secure channel (as virsh picks it) and DIGEST-MD5 on plain TCP.
func ChooseMechanism(list string, secure bool) (string, error) {
	minSSF, need := 0, 0
	if !secure {
		minSSF, need = MinSSF, secNoAnonymous|secNoPlaintext
	}
	best := ""
	var bp mechProps
	for _, name := range strings.FieldsFunc(list, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' }) {
		name = strings.ToUpper(name)
		p, ok := clientMechs[name]
		if !ok || minSSF > p.maxSSF || (need^p.flags)&need != 0 {
			continue
		}
		if best != "" && ((p.flags^bp.flags)&bp.flags != 0 || p.maxSSF < bp.maxSSF ||
			(p.maxSSF == bp.maxSSF && p.flags == bp.flags)) {
			continue
		}
		best, bp = name, p
	}
	if best == "" {
		return "", ErrNoMechanism
	}
	return best, nil
}

// ClientSession is one client negotiation. Not safe for concurrent use.
type ClientSession struct {
	mech    string
	creds   Credentials
	service string
	host    string
	secure  bool
	state   int

	// SCRAM
	cnonce, clientFirstBare, serverSig string
	// DIGEST-MD5
	lay *Layer
}

// NewClient starts mechanism mech (one ChooseMechanism may return) for
// service ("libvirt") on host, the server's name as the URI gives it.
func NewClient(mech, service, host string, creds Credentials, secure bool) (*ClientSession, error) {
	if _, ok := clientMechs[mech]; !ok {
		return nil, ErrNoMechanism
	}
	return &ClientSession{mech: mech, creds: creds, service: service, host: host, secure: secure}, nil
}

// Mechanism is the mechanism of the session.
func (c *ClientSession) Mechanism() string { return c.mech }

// Start returns the client's initial response: nil when the mechanism
// has none (DIGEST-MD5 waits for the server's challenge), which differs
// from empty data on the wire.
func (c *ClientSession) Start() ([]byte, error) {
	switch c.mech {
	case MechSCRAMSHA256, MechSCRAMSHA1:
		b := make([]byte, 24)
		if _, err := rand.Read(b); err != nil {
			return nil, err
		}
		c.cnonce = base64.RawStdEncoding.EncodeToString(b)
		c.clientFirstBare = "n=" + encodeSaslname(c.creds.Authname) + ",r=" + c.cnonce
		c.state = 1
		return []byte("n,," + c.clientFirstBare), nil
	case MechPlain:
		c.state = 1
		return []byte("\x00" + c.creds.Authname + "\x00" + c.creds.Password), nil
	}
	return nil, nil
}

// Step answers the server's data. done means the client is satisfied
// (the server's proof checked); out, when not nil, goes to the server.
func (c *ClientSession) Step(in []byte) (out []byte, done bool, err error) {
	switch c.mech {
	case MechSCRAMSHA256, MechSCRAMSHA1:
		return c.scramStep(in)
	case MechDigestMD5:
		return c.digestStep(in)
	case MechPlain:
		if len(in) != 0 {
			return nil, false, errors.New("PLAIN server sent data")
		}
		return nil, true, nil
	}
	return nil, false, ErrNoMechanism
}

// Layer is the security layer the negotiation set up, or nil.
func (c *ClientSession) Layer() *Layer { return c.lay }

// SSF is the layer's strength in bits (0: none).
func (c *ClientSession) SSF() int {
	if c.lay == nil {
		return 0
	}
	return c.lay.ssf
}

func encodeSaslname(s string) string {
	return strings.NewReplacer("=", "=3D", ",", "=2C").Replace(s)
}

func (c *ClientSession) scramStep(in []byte) ([]byte, bool, error) {
	switch c.state {
	case 1:
		c.state = 2
		return c.scramFinal(string(in))
	case 2:
		c.state = 3
		msg := string(in)
		if strings.HasPrefix(msg, "e=") {
			return nil, false, fmt.Errorf("server error %s", msg[2:])
		}
		if !strings.HasPrefix(msg, "v=") || !hmac.Equal([]byte(msg[2:]), []byte(c.serverSig)) {
			return nil, false, errors.New("server signature does not match: the server does not know the password")
		}
		return nil, true, nil
	}
	return nil, false, errors.New("SCRAM exchange out of order")
}

// scramFinal reads server-first (r=, s=, i=) and returns client-final.
func (c *ClientSession) scramFinal(serverFirst string) ([]byte, bool, error) {
	var nonce, salt64 string
	iter := 0
	for _, a := range strings.Split(serverFirst, ",") {
		k, v, ok := strings.Cut(a, "=")
		if !ok {
			return nil, false, errors.New("malformed server-first-message")
		}
		switch k {
		case "m":
			return nil, false, errors.New("mandatory extensions are not supported")
		case "r":
			nonce = v
		case "s":
			salt64 = v
		case "i":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 1<<24 {
				return nil, false, errors.New("bad iteration count")
			}
			iter = n
		}
	}
	if !strings.HasPrefix(nonce, c.cnonce) || len(nonce) == len(c.cnonce) || !printable(nonce) {
		return nil, false, errors.New("server nonce does not extend the client's")
	}
	salt, err := base64.StdEncoding.DecodeString(salt64)
	if err != nil || len(salt) == 0 || iter == 0 {
		return nil, false, errors.New("malformed server-first-message")
	}
	h := scramHash(c.mech)
	salted, err := pbkdf2.Key(h, c.creds.Password, salt, iter, h().Size())
	if err != nil {
		return nil, false, err
	}
	clientKey := hmacSum(h, salted, []byte("Client Key"))
	hh := h()
	hh.Write(clientKey)
	storedKey := hh.Sum(nil)
	withoutProof := "c=" + base64.StdEncoding.EncodeToString([]byte("n,,")) + ",r=" + nonce
	authMsg := []byte(c.clientFirstBare + "," + serverFirst + "," + withoutProof)
	sig := hmacSum(h, storedKey, authMsg)
	proof := make([]byte, len(sig))
	for i := range sig {
		proof[i] = clientKey[i] ^ sig[i]
	}
	c.serverSig = base64.StdEncoding.EncodeToString(hmacSum(h, hmacSum(h, salted, []byte("Server Key")), authMsg))
	return []byte(withoutProof + ",p=" + base64.StdEncoding.EncodeToString(proof)), false, nil
}

func (c *ClientSession) digestStep(in []byte) ([]byte, bool, error) {
	switch c.state {
	case 0:
		c.state = 1
		return c.digestResponse(in)
	case 1:
		c.state = 2
		dir, err := ParseDirectives(string(in))
		if err != nil || dir["rspauth"] == "" || !hmac.Equal([]byte(dir["rspauth"]), []byte(c.serverSig)) {
			return nil, false, errors.New("server's rspauth does not match: the server does not know the password")
		}
		return nil, true, nil
	}
	return nil, false, errors.New("DIGEST-MD5 exchange out of order")
}

// digestResponse answers the server's challenge (RFC 2831 2.1.2): qop
// auth on a secure channel, auth-conf with the strongest offered cipher
// otherwise, as cyrus's client with libvirt's security properties.
func (c *ClientSession) digestResponse(challenge []byte) ([]byte, bool, error) {
	if len(challenge) > 2048 {
		return nil, false, errors.New("DIGEST-MD5 challenge too long")
	}
	dir, err := ParseDirectives(string(challenge))
	if err != nil {
		return nil, false, err
	}
	nonce := dir["nonce"]
	if nonce == "" {
		return nil, false, errors.New("DIGEST-MD5 challenge has no nonce")
	}
	if a, ok := dir["algorithm"]; !ok || a != "md5-sess" {
		return nil, false, errors.New("DIGEST-MD5 challenge without algorithm=md5-sess")
	}
	realm := c.creds.Realm
	if realm == "" {
		realm = dir["realm"]
	}
	qops := splitList(dir["qop"])
	if len(qops) == 0 {
		qops = []string{"auth"}
	}
	qop, cipher := "", ""
	if c.secure {
		if contains(qops, "auth") {
			qop = "auth"
		}
	} else if contains(qops, "auth-conf") {
		for _, want := range DigestCiphers {
			if contains(splitList(dir["cipher"]), want) && cipherSSF[want] >= MinSSF {
				qop, cipher = "auth-conf", want
				break
			}
		}
	}
	if qop == "" {
		return nil, false, ErrNoMechanism
	}
	serverMax := Maxbuf
	if mb, ok := dir["maxbuf"]; ok {
		n, err := strconv.Atoi(mb)
		if err != nil || n < 16 || n > 16<<20 {
			return nil, false, errors.New("bad maxbuf in DIGEST-MD5 challenge")
		}
		serverMax = n
	}
	b := make([]byte, 18)
	if _, err := rand.Read(b); err != nil {
		return nil, false, err
	}
	cnonce := base64.RawStdEncoding.EncodeToString(b)
	uri := c.service + "/" + c.host
	ha0 := digestHA0(c.creds.Authname, realm, c.creds.Password)
	ha1 := md5.Sum([]byte(string(ha0) + ":" + nonce + ":" + cnonce))
	suffix := ""
	if qop != "auth" {
		suffix = ":00000000000000000000000000000000"
	}
	kd := func(a2 string) string {
		ha2 := md5.Sum([]byte(a2))
		s := md5.Sum([]byte(hex.EncodeToString(ha1[:]) + ":" + nonce + ":00000001:" + cnonce + ":" + qop + ":" + hex.EncodeToString(ha2[:])))
		return hex.EncodeToString(s[:])
	}
	c.serverSig = kd(":" + uri + suffix)
	var sb strings.Builder
	fmt.Fprintf(&sb, `username="%s"`, quote(c.creds.Authname))
	if realm != "" {
		fmt.Fprintf(&sb, `,realm="%s"`, quote(realm))
	}
	fmt.Fprintf(&sb, `,nonce="%s",cnonce="%s",nc=00000001,qop=%s`, quote(nonce), cnonce, qop)
	if cipher != "" {
		sb.WriteString(",cipher=" + cipher)
	}
	fmt.Fprintf(&sb, `,maxbuf=%d,digest-uri="%s",response=%s`, Maxbuf, quote(uri), kd("AUTHENTICATE:"+uri+suffix))
	if dir["charset"] == "utf-8" {
		sb.WriteString(",charset=utf-8")
	}
	if cipher != "" {
		if c.lay, err = newDigestLayerSide(ha1[:], cipher, serverMax, false); err != nil {
			return nil, false, err
		}
	}
	return []byte(sb.String()), false, nil
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// quote escapes a quoted-string's backslashes and quotes.
func quote(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s)
}
