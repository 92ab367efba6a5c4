package glob

import "testing"

func TestMatch(t *testing.T) {
	for _, c := range []struct {
		pat, s string
		want   bool
	}{
		{"", "", true}, {"", "a", false}, {"*", "", true}, {"*", "anything", true},
		{"web-*", "web-1", true}, {"web-*", "db-1", false}, {"?", "é", true},
		{"C=GB,O=*,CN=*", "C=GB,O=govirt,CN=client", true}, {"a*b*c", "aXbYc", true},
		{"a*b*c", "aXbY", false}, {"*a", "ba", true}, {"a?c", "abd", false},
	} {
		if got := Match(c.pat, c.s); got != c.want {
			t.Errorf("Match(%q, %q) = %v", c.pat, c.s, got)
		}
	}
}

func FuzzMatch(f *testing.F) {
	f.Add("a*b?c", "aXXbYc")
	f.Fuzz(func(t *testing.T, pat, s string) {
		if Match(pat, s) != Match(pat, s) {
			t.Fatal("not deterministic")
		}
		if !Match(s, s) && !containsWild(s) {
			t.Fatalf("%q does not match itself", s)
		}
	})
}

func containsWild(s string) bool {
	for _, r := range s {
		if r == '*' || r == '?' {
			return true
		}
	}
	return false
}
