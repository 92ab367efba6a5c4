package nwfilter

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestXML2XML runs libvirt 9.0's nwfilterxml2xmltest cases (its data
// copied under testdata): inputs named *-invalid must be refused, the
// others must be written back exactly as libvirt's output files.
func TestXML2XML(t *testing.T) {
	ins, err := filepath.Glob("testdata/xml2xmlin/*.xml")
	if err != nil || len(ins) == 0 {
		t.Fatal("no test data", err)
	}
	for _, in := range ins {
		name := strings.TrimSuffix(filepath.Base(in), ".xml")
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			f, err := ParseFilter(data, 0)
			if strings.HasSuffix(name, "-invalid") {
				if err == nil {
					t.Fatalf("parsed, want an error:\n%s", f.Format())
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want, err := os.ReadFile(filepath.Join("testdata/xml2xmlout", name+".xml"))
			if err != nil {
				t.Fatal(err)
			}
			if got := f.Format(); got != string(want) {
				t.Errorf("got:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}
