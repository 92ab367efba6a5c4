package storagepool

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"time"

	"govirt/storage"
)

// imageInfo is what a volume's content says about itself.
type imageInfo struct {
	Format        string // "raw", "qcow2", ...
	VirtualSize   uint64
	Backing       string // as recorded in the header (may be relative)
	BackingFormat string
}

// prober reads image headers. The default parses them natively
// (govirt/storage), which costs no process per vol-info; qemuImgProber is
// the equivalent through `qemu-img info`, kept for formats the native
// parser does not know.
type prober interface {
	probe(path string) (imageInfo, error)
}

type nativeProber struct{}

func (nativeProber) probe(path string) (imageInfo, error) {
	info, err := storage.ProbeFile(path)
	if err != nil {
		return imageInfo{}, err
	}
	return imageInfo{Format: info.Format, VirtualSize: info.VirtualSize, Backing: info.BackingFile,
		BackingFormat: info.BackingFormat}, nil
}

// qemuImgProber asks qemu-img. -U (force share) lets it read images a
// running guest holds locked, as libvirt's own probe never takes locks.
type qemuImgProber struct{ bin string }

func (q qemuImgProber) probe(path string) (imageInfo, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, q.bin, "info", "--output=json", "-U", path).Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = strings.TrimSpace(string(ee.Stderr))
		}
		return imageInfo{}, fmt.Errorf("qemu-img info %s: %v %s", path, err, stderr)
	}
	var j struct {
		Format        string `json:"format"`
		VirtualSize   uint64 `json:"virtual-size"`
		Backing       string `json:"backing-filename"`
		BackingFormat string `json:"backing-filename-format"`
	}
	if err := json.Unmarshal(out, &j); err != nil {
		return imageInfo{}, fmt.Errorf("qemu-img info %s: %v", path, err)
	}
	return imageInfo{Format: j.Format, VirtualSize: j.VirtualSize, Backing: j.Backing, BackingFormat: j.BackingFormat}, nil
}
