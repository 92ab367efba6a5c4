// Package glob matches the simple shell patterns libvirt's settings take
// (tls_allowed_dn_list, sasl_allowed_username_list, access rules): '*'
// is any run of characters, '?' one, everything else itself, as
// g_pattern_match_simple.
package glob

// Match reports whether s matches pattern. It is iterative (on a
// mismatch it retries from the last '*' with one more character
// swallowed), so a hostile pattern costs O(len(pattern)·len(s)) and never
// recurses.
func Match(pattern, str string) bool {
	p, s := []rune(pattern), []rune(str)
	pi, si := 0, 0
	star, mark := -1, 0
	for si < len(s) {
		switch {
		case pi < len(p) && (p[pi] == '?' || p[pi] == s[si]):
			pi++
			si++
		case pi < len(p) && p[pi] == '*':
			star, mark = pi, si
			pi++
		case star >= 0:
			pi = star + 1
			mark++
			si = mark
		default:
			return false
		}
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}
