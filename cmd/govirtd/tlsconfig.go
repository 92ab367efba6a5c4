package main

import (
	"fmt"
	"log/slog"
	"path/filepath"
	"strconv"
	"strings"

	"govirt/tlsauth"
)

// tlsConfig is the TLS listener's settings, with libvirtd.conf's keys.
type tlsConfig struct {
	Listen string // --listen-tls / listen_tls
	PKIDir string // --pki-dir / pki_dir
	// KeyFile, CertFile, CAFile are key_file, cert_file, ca_file; unset
	// ones come from PKIDir, else libvirt's /etc/pki defaults.
	KeyFile, CertFile, CAFile string
	NoVerifyCertificate       bool     // tls_no_verify_certificate
	NoSanityCertificate       bool     // tls_no_sanity_certificate
	AllowedDNs                []string // tls_allowed_dn_list; nil when unset
}

// set applies one config file key; ok is false for keys that are not TLS
// settings.
func (t *tlsConfig) set(key, raw string) (ok bool, err error) {
	str := strings.Trim(raw, `"`)
	switch key {
	case "listen_tls":
		t.Listen = str
	case "pki_dir":
		t.PKIDir = str
	case "key_file":
		t.KeyFile = str
	case "cert_file":
		t.CertFile = str
	case "ca_file":
		t.CAFile = str
	case "tls_no_verify_certificate", "tls_no_sanity_certificate":
		b, err := strconv.ParseBool(str)
		if err != nil {
			return true, err
		}
		if key == "tls_no_verify_certificate" {
			t.NoVerifyCertificate = b
		} else {
			t.NoSanityCertificate = b
		}
	case "tls_allowed_dn_list":
		list, err := parseStringList(raw)
		if err != nil {
			return true, err
		}
		t.AllowedDNs = list
	default:
		return false, nil
	}
	return true, nil
}

// parseStringList reads libvirt's config list syntax: ["a", 'b', ...].
func parseStringList(raw string) ([]string, error) {
	s := strings.TrimSpace(raw)
	if !strings.HasPrefix(s, "[") || !strings.HasSuffix(s, "]") {
		return nil, fmt.Errorf("expected a list like [\"DN1\", \"DN2\"]")
	}
	s = s[1 : len(s)-1]
	list := []string{}
	for {
		s = strings.TrimLeft(s, " \t,")
		if s == "" {
			return list, nil
		}
		q := s[0]
		if q != '"' && q != '\'' {
			return nil, fmt.Errorf("list items must be quoted strings, at %q", s)
		}
		end := strings.IndexByte(s[1:], q)
		if end < 0 {
			return nil, fmt.Errorf("unterminated string %s", s)
		}
		list = append(list, s[1:1+end])
		s = s[2+end:]
		if rest := strings.TrimLeft(s, " \t"); rest != "" && rest[0] != ',' {
			return nil, fmt.Errorf("expected ',' between list items, at %q", rest)
		}
	}
}

// fillFiles resolves the credential paths: explicit files win, then the
// PKI directory, then libvirt's defaults.
func (t *tlsConfig) fillFiles() {
	pick := func(p *string, name, def string) {
		switch {
		case *p != "":
		case t.PKIDir != "":
			*p = filepath.Join(t.PKIDir, name)
		default:
			*p = def
		}
	}
	pick(&t.KeyFile, "serverkey.pem", tlsauth.DefaultKeyFile)
	pick(&t.CertFile, "servercert.pem", tlsauth.DefaultCertFile)
	pick(&t.CAFile, "cacert.pem", tlsauth.DefaultCAFile)
}

// loadTLS reads and checks the credentials; a missing or bad file is an
// error naming it, reported before anything listens.
func loadTLS(t tlsConfig, log *slog.Logger) (*tlsauth.Context, error) {
	x, err := tlsauth.New(tlsauth.Config{
		KeyFile: t.KeyFile, CertFile: t.CertFile, CAFile: t.CAFile,
		NoVerifyCertificate: t.NoVerifyCertificate,
		NoSanityCertificate: t.NoSanityCertificate,
		AllowedDNs:          t.AllowedDNs,
		Logf:                func(f string, a ...any) { log.Warn(fmt.Sprintf(f, a...)) },
	})
	if err != nil {
		return nil, fmt.Errorf("TLS: %w", err)
	}
	return x, nil
}
