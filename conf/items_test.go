package conf

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// docItems flattens a document into a multiset of (path, what, value)
// items, using encoding/xml's namespace-resolving reader rather than our
// own tree so the comparison does not share the code under test.
// Namespace declarations are not items: only the resolved names count.
//
// Normalisation, because libvirt normalises these and so do we:
//   - a sized element (memory, currentMemory, maxMemory: default unit KiB,
//     rounded up to KiB; capacity, allocation, available, physical: default
//     unit bytes) becomes one item with its size in bytes (KiB for memory),
//     its unit attribute is not an item;
//   - text is compared with surrounding whitespace trimmed;
//   - numeric coordinates of an <address> compare by value: libvirt (and
//     govirt) write them in one canonical spelling (slot='0x1' comes back
//     as slot='0x01', cssid='0' as cssid='0x0'), which is the same value.
func docItems(data []byte) (map[string]int, error) {
	dec := xml.NewDecoder(bytes.NewReader(data))
	dec.CharsetReader = func(_ string, r io.Reader) (io.Reader, error) { return r, nil }
	items := map[string]int{}
	type frame struct {
		path  string
		start xml.StartElement
		text  strings.Builder
	}
	var stack []*frame
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			p := "/" + resolvedName(t.Name)
			if len(stack) > 0 {
				p = stack[len(stack)-1].path + p
			}
			stack = append(stack, &frame{path: p, start: t.Copy()})
			items[p]++
		case xml.CharData:
			if len(stack) > 0 {
				stack[len(stack)-1].text.Write(t)
			}
		case xml.EndElement:
			f := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			text := strings.TrimSpace(f.text.String())
			unit, sized := "", false
			for _, a := range f.start.Attr {
				if a.Name.Local == "unit" && a.Name.Space == "" {
					unit, sized = a.Value, true
				}
			}
			def, kib := sizeDefaults(f.start.Name.Local)
			if def != "" {
				sized = true
				if unit == "" {
					unit = def
				}
			}
			if sized && text != "" {
				if b, err := scaledBytes(text, unit, def); err == nil {
					if kib {
						b = kibCeil(b)
					}
					text = fmt.Sprintf("size:%d", b)
				} else {
					sized = false
				}
			}
			for _, a := range f.start.Attr {
				if a.Name.Space == "xmlns" || (a.Name.Space == "" && a.Name.Local == "xmlns") {
					continue
				}
				if sized && a.Name.Space == "" && a.Name.Local == "unit" {
					continue
				}
				items[f.path+"/@"+resolvedName(a.Name)+"="+addrValue(f.start.Name, a)]++
			}
			if text != "" {
				items[f.path+"/#text="+text]++
			}
		}
	}
	return items, nil
}

// addrNumeric are the <address> attributes libvirt reads as numbers.
var addrNumeric = map[string]bool{"domain": true, "bus": true, "slot": true, "function": true,
	"controller": true, "target": true, "unit": true, "port": true, "cssid": true, "ssid": true,
	"devno": true, "reg": true, "iobase": true, "irq": true, "base": true}

// addrValue is an attribute's value for comparison: numbers on an
// <address> as "num:" plus their decimal value, anything else verbatim.
func addrValue(el xml.Name, a xml.Attr) string {
	if el.Local != "address" || a.Name.Space != "" || !addrNumeric[a.Name.Local] {
		return a.Value
	}
	v, err := strconv.ParseUint(strings.TrimSpace(a.Value), 0, 64)
	if err != nil {
		return a.Value
	}
	return "num:" + strconv.FormatUint(v, 10)
}

func sizeDefaults(name string) (unit string, kib bool) {
	switch name {
	case "memory", "currentMemory", "maxMemory":
		return "KiB", true
	case "capacity", "allocation", "available", "physical":
		return "bytes", false
	}
	return "", false
}

func resolvedName(n xml.Name) string {
	if n.Space == "" {
		return n.Local
	}
	return "{" + n.Space + "}" + n.Local
}

// missingItems lists items of in that out lacks (counting multiplicity).
func missingItems(in, out []byte) ([]string, error) {
	a, err := docItems(in)
	if err != nil {
		return nil, fmt.Errorf("input: %w", err)
	}
	b, err := docItems(out)
	if err != nil {
		return nil, fmt.Errorf("output: %w", err)
	}
	var miss []string
	for k, n := range a {
		if b[k] < n {
			miss = append(miss, k)
		}
	}
	return miss, nil
}

// corpusRoot finds the conformance corpus: $GOVIRT_CONFORMANCE_DIR, else
// ../shared/conformance/libvirt-9.0.0 beside the module root.
func corpusRoot() string {
	if d := os.Getenv("GOVIRT_CONFORMANCE_DIR"); d != "" {
		return d
	}
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "..", "shared", "conformance", "libvirt-9.0.0")
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}
