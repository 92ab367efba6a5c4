package qemu

import "testing"

// TestShellEscape checks domxml-to-native's quoting against
// virBufferEscapeShell: plain words stay bare, '=' ',' ':' '/' need no
// quoting, metacharacters and spaces do, and a quote is closed, escaped
// and reopened.
func TestShellEscape(t *testing.T) {
	for in, want := range map[string]string{
		"":                            "''",
		"-m":                          "-m",
		"guest=a,debug-threads=on":    "guest=a,debug-threads=on",
		"/usr/bin/qemu-system-x86_64": "/usr/bin/qemu-system-x86_64",
		`{"driver":"usb"}`:            `'{"driver":"usb"}'`,
		"a b":                         "'a b'",
		"it's":                        `'it'\''s'`,
		"name=opt/x,string=$HOME":     "'name=opt/x,string=$HOME'",
	} {
		if got := shellEscape(in); got != want {
			t.Errorf("shellEscape(%q) = %s, want %s", in, got, want)
		}
	}
}

// TestRenderNodeMissingDir: without the DRM directory the error is
// libvirt's virDirOpen one.
func TestRenderNodeMissingDir(t *testing.T) {
	_, err := renderNodeIn("/nonexistent/dri")
	if err == nil || err.Error() != "cannot open directory '/nonexistent/dri': No such file or directory" {
		t.Errorf("got %v", err)
	}
}
