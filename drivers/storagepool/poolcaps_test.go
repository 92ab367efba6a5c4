package storagepool

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestPoolCapsLikeLibvirtd: the capabilities are libvirtd 9.0's output
// (recorded in testdata) but for which types say supported='yes'.
func TestPoolCapsLikeLibvirtd(t *testing.T) {
	want, err := os.ReadFile("testdata/poolcaps-libvirtd.xml")
	if err != nil {
		t.Fatal(err)
	}
	sup := regexp.MustCompile(`supported='(yes|no)'`)
	norm := func(s string) string { return strings.TrimSpace(sup.ReplaceAllString(s, "supported=''")) }
	got := poolCapsXML()
	if norm(got) != norm(string(want)) {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
	for _, typ := range []string{"dir", "fs", "logical"} {
		if !regexp.MustCompile(`type='` + typ + `' supported='yes'`).MatchString(got) {
			t.Errorf("%s not supported:\n%s", typ, got)
		}
	}
	if n := len(regexp.MustCompile(`supported='yes'`).FindAllString(got, -1)); n != 3 {
		t.Errorf("%d supported types, want 3", n)
	}
}
