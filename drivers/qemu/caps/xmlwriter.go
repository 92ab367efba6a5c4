package caps

import "strings"

// xmlWriter writes XML in libvirt's layout: two-space indentation,
// single-quoted attributes, self-closing empty elements.
type xmlWriter struct {
	b     strings.Builder
	depth int
}

func (w *xmlWriter) String() string { return w.b.String() }

func (w *xmlWriter) start(name string, attrs []string) {
	w.b.WriteString(strings.Repeat("  ", w.depth))
	w.b.WriteString("<" + name)
	for i := 0; i+1 < len(attrs); i += 2 {
		w.b.WriteString(" " + attrs[i] + "='" + escape(attrs[i+1]) + "'")
	}
}

func (w *xmlWriter) open(name string, attrs ...string) {
	w.start(name, attrs)
	w.b.WriteString(">\n")
	w.depth++
}

func (w *xmlWriter) close(name string) {
	w.depth--
	w.b.WriteString(strings.Repeat("  ", w.depth) + "</" + name + ">\n")
}

func (w *xmlWriter) empty(name string, attrs ...string) {
	w.start(name, attrs)
	w.b.WriteString("/>\n")
}

func (w *xmlWriter) text(name, text string) { w.textAttrs(name, text) }

func (w *xmlWriter) textAttrs(name, text string, attrs ...string) {
	w.start(name, attrs)
	w.b.WriteString(">" + escape(text) + "</" + name + ">\n")
}

// enum writes <enum name=...> with the non-empty values, in the order
// given (callers pass them in libvirt's enum order).
func (w *xmlWriter) enum(name string, values ...string) {
	var vs []string
	for _, v := range values {
		if v != "" {
			vs = append(vs, v)
		}
	}
	if len(vs) == 0 {
		w.empty("enum", "name", name)
		return
	}
	w.open("enum", "name", name)
	for _, v := range vs {
		w.text("value", v)
	}
	w.close("enum")
}

var escaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", "'", "&apos;", `"`, "&quot;")

func escape(s string) string { return escaper.Replace(s) }
