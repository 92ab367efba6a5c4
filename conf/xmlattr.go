package conf

import (
	"bytes"
	"strconv"
	"strings"
)

// normalizeAttrs applies XML's attribute-value normalisation, which
// encoding/xml leaves out and libxml2 (so libvirt) does: a tab, newline or
// carriage return written literally in a value reads as a space, while one
// written as a character reference (&#10;) stays what it is. raw is the
// start tag as written; its values are matched to attrs by position. Only
// values holding a literal tab, newline or carriage return are decoded
// again, so the common case costs one scan of the tag.
func normalizeAttrs(attrs []attr, raw []byte) {
	vals := rawAttrValues(raw)
	if len(vals) != len(attrs) {
		return // not a shape this reader understands: leave the decoder's
	}
	for i, v := range vals {
		if bytes.ContainsAny(v, "\t\n\r") {
			attrs[i].value = decodeAttrValue(v)
		}
	}
}

// rawAttrValues returns the attribute values of a start tag as written,
// between their quotes, in order.
func rawAttrValues(tag []byte) [][]byte {
	isSpace := func(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }
	i := 1 // past '<'
	for i < len(tag) && !isSpace(tag[i]) && tag[i] != '>' && tag[i] != '/' {
		i++
	}
	var out [][]byte
	for {
		for i < len(tag) && isSpace(tag[i]) {
			i++
		}
		if i >= len(tag) || tag[i] == '>' || tag[i] == '/' {
			return out
		}
		eq := bytes.IndexByte(tag[i:], '=')
		if eq < 0 {
			return nil
		}
		i += eq + 1
		for i < len(tag) && isSpace(tag[i]) {
			i++
		}
		if i >= len(tag) || (tag[i] != '\'' && tag[i] != '"') {
			return nil
		}
		q := tag[i]
		end := bytes.IndexByte(tag[i+1:], q)
		if end < 0 {
			return nil
		}
		out = append(out, tag[i+1:i+1+end])
		i += end + 2
	}
}

// decodeAttrValue turns a raw value into what it denotes after
// normalisation: literal whitespace (a CR LF pair counting as one) becomes
// a space, references are expanded.
func decodeAttrValue(v []byte) string {
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch c {
		case '\r':
			if i+1 < len(v) && v[i+1] == '\n' {
				i++
			}
			b.WriteByte(' ')
		case '\n', '\t':
			b.WriteByte(' ')
		case '&':
			end := bytes.IndexByte(v[i:], ';')
			if end < 0 {
				b.WriteByte(c)
				continue
			}
			ref := string(v[i+1 : i+end])
			i += end
			switch {
			case ref == "lt":
				b.WriteByte('<')
			case ref == "gt":
				b.WriteByte('>')
			case ref == "amp":
				b.WriteByte('&')
			case ref == "apos":
				b.WriteByte('\'')
			case ref == "quot":
				b.WriteByte('"')
			case strings.HasPrefix(ref, "#x"):
				if n, err := strconv.ParseUint(ref[2:], 16, 32); err == nil {
					b.WriteRune(rune(n))
				}
			case strings.HasPrefix(ref, "#"):
				if n, err := strconv.ParseUint(ref[1:], 10, 32); err == nil {
					b.WriteRune(rune(n))
				}
			}
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}
