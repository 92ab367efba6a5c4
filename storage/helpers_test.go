package storage

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// needQemuImg skips the test when qemu-img is not installed: the images it
// creates are the reference the parsers are checked against.
func needQemuImg(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("qemu-img"); err != nil {
		t.Skip("qemu-img not installed")
	}
}

func qemuImg(t testing.TB, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("qemu-img", args...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("qemu-img %v: %v\n%s", args, err, out)
	}
}

// qemuInfo is the subset of `qemu-img info --output=json` compared here.
type qemuInfo struct {
	Filename       string `json:"filename"`
	Format         string `json:"format"`
	VirtualSize    uint64 `json:"virtual-size"`
	ClusterSize    uint32 `json:"cluster-size"`
	BackingFile    string `json:"backing-filename"`
	BackingFormat  string `json:"backing-filename-format"`
	Encrypted      bool   `json:"encrypted"`
	FormatSpecific struct {
		Data struct {
			Compat        string `json:"compat"`
			DataFile      string `json:"data-file"`
			DataFileRaw   bool   `json:"data-file-raw"`
			LazyRefcounts bool   `json:"lazy-refcounts"`
			ExtendedL2    bool   `json:"extended-l2"`
			CreateType    string `json:"create-type"`
		} `json:"data"`
	} `json:"format-specific"`
}

// infoOf runs qemu-img info, forcing the format when format is not "".
func infoOf(t testing.TB, path, format string) qemuInfo {
	t.Helper()
	args := []string{"info", "--output=json", "-U"}
	if format != "" {
		args = append(args, "-f", format)
	}
	out, err := exec.Command("qemu-img", append(args, path)...).Output()
	if err != nil {
		t.Fatalf("qemu-img info %s: %v", path, err)
	}
	var qi qemuInfo
	if err := json.Unmarshal(out, &qi); err != nil {
		t.Fatalf("qemu-img info %s: %v\n%s", path, err, out)
	}
	return qi
}

// chainInfo runs qemu-img info --backing-chain.
func chainInfo(t testing.TB, path string) []qemuInfo {
	t.Helper()
	out, err := exec.Command("qemu-img", "info", "--output=json", "-U", "--backing-chain", path).Output()
	if err != nil {
		t.Fatalf("qemu-img info --backing-chain %s: %v", path, err)
	}
	var qi []qemuInfo
	if err := json.Unmarshal(out, &qi); err != nil {
		t.Fatalf("qemu-img info --backing-chain %s: %v\n%s", path, err, out)
	}
	return qi
}

func writeFile(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
