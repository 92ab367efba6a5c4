package storagepool

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"os"
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
	// Encryption is luks (a LUKS file, or qcow2 with LUKS) or qcow
	// (qcow/qcow2 AES); PayloadOffset the bytes before a LUKS file's data.
	Encryption    string
	PayloadOffset uint64
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
	ii := imageInfo{Format: info.Format, VirtualSize: info.VirtualSize, Backing: info.BackingFile,
		BackingFormat: info.BackingFormat}
	switch info.EncryptionFormat {
	case "luks":
		ii.Encryption = "luks"
	case "aes":
		ii.Encryption = "qcow"
	}
	if info.Format == "raw" {
		ii.Encryption, ii.PayloadOffset = probeLUKS(path)
	}
	return ii, nil
}

// probeLUKS reads a LUKS1 header as libvirt's probe does (magic
// "LUKS\xba\xbe", version 1, payload offset in sectors at byte 104).
func probeLUKS(path string) (string, uint64) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0
	}
	defer f.Close()
	var h [108]byte
	if _, err := io.ReadFull(f, h[:]); err != nil {
		return "", 0
	}
	if string(h[:6]) != "LUKS\xba\xbe" || binary.BigEndian.Uint16(h[6:]) != 1 {
		return "", 0
	}
	return "luks", uint64(binary.BigEndian.Uint32(h[104:])) * 512
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
