package safepath

import "testing"

func TestJoin(t *testing.T) {
	for _, c := range []struct {
		elem, suffix, want string
	}{
		{"vm", ".xml", "/d/vm.xml"},
		{"..", ".xml", "/d/...xml"},
		{".", ".log", "/d/..log"},
		{"vm", "", "/d/vm"},
		{"..", "", ""},
		{".", "", ""},
		{"", "", ""},
		{"a/b", ".xml", ""},
		{"../../x", ".xml", ""},
		{"a\x00b", ".xml", ""},
		{"/abs", "", ""},
	} {
		got, err := Join("/d/", c.elem, c.suffix)
		if got != c.want || (err == nil) != (c.want != "") {
			t.Errorf("Join(%q, %q) = %q, %v; want %q", c.elem, c.suffix, got, err, c.want)
		}
	}
}
