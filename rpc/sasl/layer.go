package sasl

import (
	"crypto/cipher"
	"crypto/des"
	"crypto/hmac"
	"crypto/md5"
	"crypto/rc4"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
)

// Layer is DIGEST-MD5's confidentiality layer (RFC 2831 section 2.4) as
// cyrus-sasl frames it: every packet is a 4-byte length, the cipher text
// of (message, padding, first 10 bytes of HMAC-MD5(Ki, seq, message)),
// then 0x0001 and the sequence number. libvirt wraps its whole RPC byte
// stream in such packets after authentication (virNetSASLSession
// encode/decode). A Layer is used by one reader and one writer at a time.
type Layer struct {
	ssf int
	// maxOut bounds the plain text of one packet the peer receives.
	maxOut int

	enc, dec       dirCipher
	kiSend, kiRecv []byte
	seqSend        uint32
	seqRecv        uint32

	inbuf []byte // undecoded input
}

// dirCipher is one direction's cipher; its state runs on from packet to
// packet (RC4's key stream, the CBC chain), as cyrus keeps it.
type dirCipher interface {
	seal(plain []byte) []byte
	open(ct []byte) ([]byte, error)
	blockSize() int
}

type rc4Dir struct{ c *rc4.Cipher }

func (r rc4Dir) seal(p []byte) []byte {
	out := make([]byte, len(p))
	r.c.XORKeyStream(out, p)
	return out
}
func (r rc4Dir) open(ct []byte) ([]byte, error) { return r.seal(ct), nil }
func (r rc4Dir) blockSize() int                 { return 1 }

type cbcDir struct{ enc, dec cipher.BlockMode }

func (c cbcDir) seal(p []byte) []byte {
	out := make([]byte, len(p))
	c.enc.CryptBlocks(out, p)
	return out
}

func (c cbcDir) open(ct []byte) ([]byte, error) {
	if len(ct) == 0 || len(ct)%8 != 0 {
		return nil, errors.New("cipher text not a whole number of blocks")
	}
	out := make([]byte, len(ct))
	c.dec.CryptBlocks(out, ct)
	return out, nil
}
func (c cbcDir) blockSize() int { return 8 }

// slideBits spreads 7 key bytes over the 8 bytes of a DES key (the parity
// bits, which Go ignores, are left clear), as RFC 2831 and cyrus do.
func slideBits(in []byte) []byte {
	return []byte{
		in[0],
		in[0]<<7 | in[1]>>1,
		in[1]<<6 | in[2]>>2,
		in[2]<<5 | in[3]>>3,
		in[3]<<4 | in[4]>>4,
		in[4]<<3 | in[5]>>5,
		in[5]<<2 | in[6]>>6,
		in[6] << 1,
	}
}

func newDir(name string, kc []byte, encrypt bool) (dirCipher, error) {
	switch name {
	case "rc4":
		c, err := rc4.NewCipher(kc)
		if err != nil {
			return nil, err
		}
		return rc4Dir{c}, nil
	case "3des":
		k1, k2 := slideBits(kc[0:7]), slideBits(kc[7:14])
		key := append(append(append([]byte{}, k1...), k2...), k1...)
		b, err := des.NewTripleDESCipher(key)
		if err != nil {
			return nil, err
		}
		iv := kc[8:16]
		if encrypt {
			return cbcDir{enc: cipher.NewCBCEncrypter(b, iv)}, nil
		}
		return cbcDir{dec: cipher.NewCBCDecrypter(b, iv)}, nil
	}
	return nil, fmt.Errorf("unsupported cipher %q", name)
}

// cipherSSF is each cipher's strength as cyrus rates it.
var cipherSSF = map[string]int{"rc4": 128, "3des": 112}

// newDigestLayer derives the server's keys from H(A1) (RFC 2831 2.3/2.4).
func newDigestLayer(ha1 []byte, cipherName string, clientMax int) (*Layer, error) {
	return newDigestLayerSide(ha1, cipherName, clientMax, true)
}

// newDigestLayerSide derives either side's keys; peerMax is the other
// side's maxbuf.
func newDigestLayerSide(ha1 []byte, cipherName string, peerMax int, server bool) (*Layer, error) {
	mdk := func(key []byte, magic string) []byte {
		s := md5.Sum(append(append([]byte{}, key...), magic...))
		return s[:]
	}
	kcc := mdk(ha1, "Digest H(A1) to client-to-server sealing key magic constant")
	kcs := mdk(ha1, "Digest H(A1) to server-to-client sealing key magic constant")
	kis := mdk(ha1, "Digest session key to server-to-client signing key magic constant")
	kic := mdk(ha1, "Digest session key to client-to-server signing key magic constant")
	l := &Layer{ssf: cipherSSF[cipherName], kiSend: kis, kiRecv: kic}
	encKey, decKey := kcs, kcc
	if !server {
		l.kiSend, l.kiRecv = kic, kis
		encKey, decKey = kcc, kcs
	}
	var err error
	if l.enc, err = newDir(cipherName, encKey, true); err != nil {
		return nil, err
	}
	if l.dec, err = newDir(cipherName, decKey, false); err != nil {
		return nil, err
	}
	// Room for the MAC, padding and trailer in the peer's buffer.
	l.maxOut = peerMax - 4 - 10 - 8 - 6
	if l.maxOut < 1 {
		return nil, errors.New("client maxbuf too small")
	}
	return l, nil
}

// SSF is the layer's strength in bits.
func (l *Layer) SSF() int { return l.ssf }

func (l *Layer) mac(key []byte, seq uint32, msg []byte) []byte {
	m := hmac.New(md5.New, key)
	var s [4]byte
	binary.BigEndian.PutUint32(s[:], seq)
	m.Write(s[:])
	m.Write(msg)
	return m.Sum(nil)[:10]
}

// Encode wraps p into as many packets as the peer's buffer needs.
func (l *Layer) Encode(p []byte) []byte {
	var out []byte
	for len(p) > 0 {
		n := min(len(p), l.maxOut)
		out = l.encodeOne(out, p[:n])
		p = p[n:]
	}
	return out
}

func (l *Layer) encodeOne(out, msg []byte) []byte {
	body := append([]byte{}, msg...)
	if bs := l.enc.blockSize(); bs > 1 {
		pad := bs - (len(msg)+10)%bs
		for i := 0; i < pad; i++ {
			body = append(body, byte(pad))
		}
	}
	body = append(body, l.mac(l.kiSend, l.seqSend, msg)...)
	ct := l.enc.seal(body)
	var hdr [4]byte
	binary.BigEndian.PutUint32(hdr[:], uint32(len(ct)+6))
	out = append(out, hdr[:]...)
	out = append(out, ct...)
	out = append(out, 0, 1)
	out = binary.BigEndian.AppendUint32(out, l.seqSend)
	l.seqSend++
	return out
}

// ErrLayer is a packet that does not decode: the stream is corrupt or
// forged, and the connection must end.
var ErrLayer = errors.New("sasl: security layer packet rejected")

// Decode takes raw bytes from the peer and returns the plain text of the
// packets they complete; a partial packet waits for more.
func (l *Layer) Decode(raw []byte) ([]byte, error) {
	l.inbuf = append(l.inbuf, raw...)
	var out []byte
	for len(l.inbuf) >= 4 {
		n := binary.BigEndian.Uint32(l.inbuf)
		if n < 16 || n > Maxbuf+64 {
			return nil, fmt.Errorf("%w: length %d", ErrLayer, n)
		}
		if uint32(len(l.inbuf)-4) < n {
			break
		}
		pkt := l.inbuf[4 : 4+n]
		plain, err := l.decodeOne(pkt)
		if err != nil {
			return nil, err
		}
		out = append(out, plain...)
		l.inbuf = l.inbuf[4+n:]
	}
	if len(l.inbuf) == 0 {
		l.inbuf = nil
	}
	return out, nil
}

func (l *Layer) decodeOne(pkt []byte) ([]byte, error) {
	ct, trailer := pkt[:len(pkt)-6], pkt[len(pkt)-6:]
	if trailer[0] != 0 || trailer[1] != 1 {
		return nil, fmt.Errorf("%w: bad version", ErrLayer)
	}
	if binary.BigEndian.Uint32(trailer[2:]) != l.seqRecv {
		return nil, fmt.Errorf("%w: sequence number out of order", ErrLayer)
	}
	body, err := l.dec.open(ct)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrLayer, err)
	}
	if len(body) < 10 {
		return nil, fmt.Errorf("%w: short packet", ErrLayer)
	}
	msg, mac := body[:len(body)-10], body[len(body)-10:]
	if l.dec.blockSize() > 1 {
		if len(msg) == 0 {
			return nil, fmt.Errorf("%w: no padding", ErrLayer)
		}
		pad := int(msg[len(msg)-1])
		if pad < 1 || pad > 8 || pad > len(msg) {
			return nil, fmt.Errorf("%w: bad padding", ErrLayer)
		}
		for _, b := range msg[len(msg)-pad:] {
			if int(b) != pad {
				return nil, fmt.Errorf("%w: bad padding", ErrLayer)
			}
		}
		msg = msg[:len(msg)-pad]
	}
	if subtle.ConstantTimeCompare(mac, l.mac(l.kiRecv, l.seqRecv, msg)) != 1 {
		return nil, fmt.Errorf("%w: bad MAC", ErrLayer)
	}
	l.seqRecv++
	return msg, nil
}
