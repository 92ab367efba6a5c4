package command

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"govirt/conf"
	"govirt/drivers/qemu/postparse"
)

// A definition the driver post-parsed at define and stored builds the
// same command line as the definition as written: Build applies the same
// defaults itself and leaves what is already there alone.
func TestBuildSameAfterDefine(t *testing.T) {
	for _, f := range testFiles(t) {
		name := strings.TrimSuffix(filepath.Base(f), ".xml")
		t.Run(name, func(t *testing.T) {
			plain := loadDomain(t, f, goldenDir)
			want, wantErr := Build(plain, qemu72(), goldenPaths(name))

			defined := loadDomain(t, f, goldenDir)
			if err := postparse.Apply(defined, qemu72()); err != nil {
				if wantErr == nil {
					t.Fatalf("post-parse refuses what Build accepts: %v", err)
				}
				return
			}
			// As the driver holds it after define.
			inMem, err := Build(defined.Clone(), qemu72(), goldenPaths(name))
			if (wantErr == nil) != (err == nil) {
				t.Fatalf("build error %v without define, %v after", wantErr, err)
			}
			if wantErr == nil && !slices.Equal(maskMACs(want.Argv), maskMACs(inMem.Argv)) {
				t.Errorf("argv differs after define:\n%s\n---\n%s", formatArgs(want), formatArgs(inMem))
			}
			// As the driver stores it: inactive XML, read back.
			xml, _ := defined.Format(conf.FormatInactive | conf.FormatSecure)
			stored, err := conf.ParseDomain(xml, 0)
			if err != nil {
				t.Fatal(err)
			}
			got, gotErr := Build(stored, qemu72(), goldenPaths(name))
			if (wantErr == nil) != (gotErr == nil) {
				t.Fatalf("build error %v without define, %v after", wantErr, gotErr)
			}
			if wantErr != nil {
				return
			}
			if !slices.Equal(maskMACs(want.Argv), maskMACs(got.Argv)) {
				t.Errorf("argv differs after define:\n%s\n---\n%s", formatArgs(want), formatArgs(got))
			}
			// Applying the defaults again at start changes nothing.
			again := stored.Clone()
			if err := postparse.ApplyAtStart(again, qemu72(), postparse.Options{}); err != nil {
				t.Fatal(err)
			}
			x1, _ := stored.Format(conf.FormatInactive)
			x2, _ := again.Format(conf.FormatInactive)
			if string(x1) != string(x2) {
				t.Errorf("post-parse is not idempotent:\n%s\n---\n%s", x1, x2)
			}
		})
	}
}

// maskMACs hides generated MAC addresses, which differ between runs.
func maskMACs(argv []string) []string {
	out := slices.Clone(argv)
	for i, a := range out {
		if j := strings.Index(a, `"mac":"52:54:00:`); j >= 0 {
			out[i] = a[:j] + `"mac":"X"` + a[j+len(`"mac":"52:54:00:xx:xx:xx"`):]
		}
	}
	return out
}
