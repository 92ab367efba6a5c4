package conf

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
)

type formatter interface {
	Format(FormatFlags) ([]byte, error)
}

type corpusSpec struct {
	dir    string
	schema string
	parse  func([]byte, ParseFlags) (formatter, error)
}

var corpora = []corpusSpec{
	{"qemuxml2argvdata", "domain.rng", parseDomainF},
	{"genericxml2xmlindata", "domain.rng", parseDomainF},
	{"networkxml2xmlin", "network.rng", func(b []byte, f ParseFlags) (formatter, error) { return ParseNetwork(b, f) }},
	{"storagepoolxml2xmlin", "storagepool.rng", func(b []byte, f ParseFlags) (formatter, error) { return ParseStoragePool(b, f) }},
	{"storagevolxml2xmlin", "storagevol.rng", func(b []byte, f ParseFlags) (formatter, error) { return ParseStorageVolume(b, f) }},
}

// Live parsing keeps the id some inputs carry, so nothing is lost.
func parseDomainF(b []byte, f ParseFlags) (formatter, error) { return ParseDomain(b, f|ParseLive) }

// fileResult is the outcome for one corpus file.
type fileResult struct {
	name           string
	expectedReject bool
	rejected       bool
	problem        string // a/b failure, empty when fine
	out            string // path of the formatted output on disk
	src            string // the input, symlink stand-ins resolved
	validateErr    string // ParseValidate's complaint, if any
}

func TestConformance(t *testing.T) {
	root := corpusRoot()
	if _, err := os.Stat(filepath.Join(root, "README.md")); err != nil {
		t.Skipf("conformance corpus not found at %q (set GOVIRT_CONFORMANCE_DIR)", root)
	}
	xmllint, _ := exec.LookPath("xmllint")
	if xmllint == "" {
		t.Log("xmllint not found: schema checks (c) skipped")
	}
	if xmllint != "" {
		// The batch output parsing must see a broken document as broken.
		bogus := filepath.Join(t.TempDir(), "bogus.xml")
		os.WriteFile(bogus, []byte("<domain><bogus/></domain>"), 0o644)
		if !invalidFiles(t, xmllint, filepath.Join(root, "schemas", "domain.rng"), []string{bogus})[bogus] {
			t.Fatal("xmllint harness reports an invalid document as valid")
		}
	}
	for _, c := range corpora {
		t.Run(c.dir, func(t *testing.T) { runCorpus(t, root, c, xmllint) })
	}
}

func runCorpus(t *testing.T, root string, c corpusSpec, xmllint string) {
	files, _ := filepath.Glob(filepath.Join(root, c.dir, "*.xml"))
	if len(files) == 0 {
		t.Skipf("no files in %s", c.dir)
	}
	tmp := t.TempDir()
	results := make([]*fileResult, len(files))
	for i, f := range files {
		results[i] = checkFile(c, f, filepath.Join(tmp, fmt.Sprintf("%04d.xml", i)))
	}
	var inputs, outputs []string
	for _, r := range results {
		if !r.rejected && r.problem == "" && !r.expectedReject {
			inputs = append(inputs, r.src)
			outputs = append(outputs, r.out)
		}
	}
	var pass, expReject, expRejected, inputInvalid, checked int
	inBad, outBad := map[string]bool{}, map[string]bool{}
	if xmllint != "" {
		schema := filepath.Join(root, "schemas", c.schema)
		inBad = invalidFiles(t, xmllint, schema, inputs)
		outBad = invalidFiles(t, xmllint, schema, outputs)
		checked = len(outputs)
	}
	var failures []string
	for _, r := range results {
		switch {
		case r.expectedReject:
			expReject++
			if r.rejected {
				expRejected++
			}
		case r.problem != "":
			failures = append(failures, r.name+": "+r.problem)
		case r.validateErr != "" && !inBad[r.src] && xmllint != "":
			failures = append(failures, r.name+": ParseValidate rejects a schema-valid input: "+r.validateErr)
		case outBad[r.out] && inBad[r.src]:
			inputInvalid++
		case outBad[r.out]:
			failures = append(failures, r.name+": (c) output fails "+c.schema)
		default:
			pass++
			if inBad[r.src] {
				inputInvalid++
			}
		}
	}
	sort.Strings(failures)
	for _, f := range failures {
		t.Error(f)
	}
	line := fmt.Sprintf("corpus %s: %d files, %d pass a/b/c, %d expected-reject (%d rejected, %d accepted), %d input not schema-valid, %d fail (%d outputs schema-checked)",
		c.dir, len(files), pass, expReject, expRejected, expReject-expRejected, inputInvalid, len(failures), checked)
	t.Log(line)
	fmt.Println(line)
}

// checkFile runs parse, format, parse, format on one file and checks the
// fixed point (a) and that nothing of the input was dropped (b).
func checkFile(c corpusSpec, path, out string) (r *fileResult) {
	name := filepath.Base(path)
	r = &fileResult{name: name, out: out}
	// "-fail" files are libvirt's own expected parse failures
	// (genericxml2xmltest's name-slash-fail).
	r.expectedReject = strings.HasSuffix(name, "-invalid.xml") || strings.HasSuffix(name, "-fail.xml")
	if c.dir == "qemuxml2argvdata" {
		if _, err := os.Stat(strings.TrimSuffix(path, ".xml") + ".err"); err == nil {
			r.expectedReject = true
		}
	}
	defer func() {
		if p := recover(); p != nil {
			r.problem = fmt.Sprintf("panic: %v", p)
		}
	}()
	r.src = resolveCorpusLink(path)
	in, err := os.ReadFile(r.src)
	if err != nil {
		r.problem = err.Error()
		return r
	}
	if _, err := c.parse(in, ParseValidate); err != nil {
		r.validateErr = err.Error()
	}
	doc, err := c.parse(in, 0)
	if err != nil {
		r.rejected = true
		if !r.expectedReject {
			r.problem = "parse: " + err.Error()
		}
		return r
	}
	first, err := doc.Format(FormatSecure)
	if err != nil {
		r.problem = "format: " + err.Error()
		return r
	}
	doc2, err := c.parse(first, 0)
	if err != nil {
		r.problem = "re-parse: " + err.Error()
		return r
	}
	second, _ := doc2.Format(FormatSecure)
	if !bytes.Equal(first, second) {
		r.problem = "(a) second format differs from first"
		return r
	}
	miss, err := missingItems(in, first)
	if err != nil {
		r.problem = "(b) " + err.Error()
		return r
	}
	miss = withoutLibvirtRewrites(miss, first)
	if len(miss) > 0 {
		sort.Strings(miss)
		if len(miss) > 3 {
			miss = append(miss[:3], "...")
		}
		r.problem = "(b) dropped " + strings.Join(miss, ", ")
		return r
	}
	if err := os.WriteFile(out, first, 0o644); err != nil {
		r.problem = err.Error()
	}
	return r
}

// resolveCorpusLink follows the git symlinks that were unpacked as small
// text files naming their target.
func resolveCorpusLink(path string) string {
	for hop := 0; hop < 8; hop++ {
		data, err := os.ReadFile(path)
		if err != nil {
			return path
		}
		s := strings.TrimSpace(string(data))
		if len(data) >= 256 || strings.Contains(s, "<") || s == "" {
			return path
		}
		path = filepath.Join(filepath.Dir(path), s)
	}
	return path
}

// invalidFiles validates files against schema with xmllint, many files per
// invocation and several invocations at once, and returns those that fail.
func invalidFiles(t *testing.T, xmllint, schema string, files []string) map[string]bool {
	bad := map[string]bool{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, runtime.NumCPU())
	const batch = 40
	for i := 0; i < len(files); i += batch {
		chunk := files[i:min(i+batch, len(files))]
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			args := append([]string{"--noout", "--relaxng", schema}, chunk...)
			outp, _ := exec.Command(xmllint, args...).CombinedOutput()
			ok := map[string]bool{}
			for _, l := range strings.Split(string(outp), "\n") {
				if f, found := strings.CutSuffix(l, " validates"); found {
					ok[f] = true
				}
			}
			mu.Lock()
			for _, f := range chunk {
				if !ok[f] {
					bad[f] = true
				}
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	return bad
}

// libvirtRewrites are values libvirt's own parser replaces (its
// qemuxml2xmloutdata shows the replacement): an item of the input missing
// from the output is no loss when the output has what libvirt writes
// instead.
var libvirtRewrites = map[string]string{
	// virDomainDefParseXML: memory placed automatically places the
	// vCPUs automatically when nothing is pinned
	"/domain/vcpu/@placement=static": "<vcpu placement='auto'",
}

func withoutLibvirtRewrites(miss []string, out []byte) []string {
	var keep []string
	for _, m := range miss {
		if w, ok := libvirtRewrites[m]; ok && bytes.Contains(out, []byte(w)) {
			continue
		}
		keep = append(keep, m)
	}
	return keep
}
