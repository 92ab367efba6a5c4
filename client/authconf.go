package client

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"govirt/virerr"
)

// libvirt's auth.conf (virauth.c, virauthconfig.c): a GLib key file whose
// [auth-SERVICE-HOST] group (or [auth-SERVICE-default]) names, in its
// "credentials" key, a [credentials-NAME] group holding authname,
// password, username and realm.

// authConfigPath is where libvirt looks for the file: $LIBVIRT_AUTH_FILE,
// the URI's authfile= parameter, then the user's and the system's file
// if readable. "" means none.
func authConfigPath(authfile string) string {
	if p := os.Getenv("LIBVIRT_AUTH_FILE"); p != "" {
		return p
	}
	if authfile != "" {
		return authfile
	}
	dir := os.Getenv("XDG_CONFIG_HOME")
	if dir == "" {
		if home, err := os.UserHomeDir(); err == nil {
			dir = filepath.Join(home, ".config")
		}
	}
	for _, p := range []string{filepath.Join(dir, "libvirt", "auth.conf"), "/etc/libvirt/auth.conf"} {
		if f, err := os.Open(p); err == nil {
			f.Close()
			return p
		}
	}
	return ""
}

// authConfig is a parsed auth.conf: groups of keys.
type authConfig struct {
	path   string
	groups map[string]map[string]string
}

// loadAuthConfig reads path as GLib's key file parser does: groups in
// brackets, key=value lines, # comments, later keys overriding earlier
// ones; values take \s \n \t \r \\ escapes.
func loadAuthConfig(path string) (*authConfig, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	ac := &authConfig{path: path, groups: map[string]map[string]string{}}
	var cur map[string]string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimLeft(sc.Text(), " \t")
		switch {
		case line == "" || line[0] == '#':
			continue
		case line[0] == '[':
			end := strings.IndexByte(line, ']')
			if end < 0 || strings.TrimSpace(line[end+1:]) != "" {
				return nil, fmt.Errorf("%s:%d: malformed group", path, n)
			}
			name := line[1:end]
			if ac.groups[name] == nil {
				ac.groups[name] = map[string]string{}
			}
			cur = ac.groups[name]
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || cur == nil {
				return nil, fmt.Errorf("%s:%d: not a key=value line in a group", path, n)
			}
			cur[strings.TrimSpace(k)] = unescapeKeyFile(strings.TrimLeft(v, " \t"))
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return ac, nil
}

func unescapeKeyFile(v string) string {
	if !strings.Contains(v, `\`) {
		return v
	}
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		if v[i] != '\\' || i+1 == len(v) {
			b.WriteByte(v[i])
			continue
		}
		i++
		switch v[i] {
		case 's':
			b.WriteByte(' ')
		case 'n':
			b.WriteByte('\n')
		case 't':
			b.WriteByte('\t')
		case 'r':
			b.WriteByte('\r')
		default:
			b.WriteByte(v[i])
		}
	}
	return b.String()
}

// lookup is virAuthConfigLookup: credential credname for service on
// hostname ("" when the file has none).
func (ac *authConfig) lookup(service, hostname, credname string) (string, error) {
	if hostname == "" {
		hostname = "localhost"
	}
	group := "auth-" + service + "-" + hostname
	g, ok := ac.groups[group]
	if !ok {
		group = "auth-" + service + "-default"
		if g, ok = ac.groups[group]; !ok {
			return "", nil
		}
	}
	cred, ok := g["credentials"]
	if !ok {
		return "", virerr.New(virerr.FromNone, virerr.ErrConfSyntax, "Missing item 'credentials' in group '%s' in '%s'", group, ac.path)
	}
	cg, ok := ac.groups["credentials-"+cred]
	if !ok {
		return "", virerr.New(virerr.FromNone, virerr.ErrConfSyntax, "Missing group 'credentials-%s' referenced from group '%s' in '%s'", cred, group, ac.path)
	}
	return cg[credname], nil
}
