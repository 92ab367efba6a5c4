package storage

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"
)

// DefaultMaxDepth bounds backing chains when ChainOptions.MaxDepth is 0.
// libvirt uses the same limit; real chains are a handful of images deep.
const DefaultMaxDepth = 200

// ChainOptions tunes DetectChain.
type ChainOptions struct {
	// AllowProbe lets DetectChain guess the format of an image whose
	// format nobody declared. Off by default: a guest that can write a raw
	// image could otherwise make it look like a qcow2 image backed by any
	// host file.
	AllowProbe bool
	// MaxDepth is the maximum number of layers, top included; 0 means
	// DefaultMaxDepth.
	MaxDepth int
}

// Layer is one image of a backing chain.
type Layer struct {
	// Path is the file opened, built the way QEMU builds it: a relative
	// backing name is appended to the directory part of the path of the
	// image naming it, symlinks left unresolved. For a network layer it is
	// the backing name as written.
	Path string
	// Format is the declared format, or the probed one when Probed.
	Format string
	Probed bool
	// Protocol is set ("nbd", "rbd", "json", ...) for a backing store that
	// is not a local file. Such a layer ends the chain uninspected: only
	// Path, Protocol and Format are filled.
	Protocol     string
	VirtualSize  uint64
	Allocation   uint64
	PhysicalSize uint64
	// BackingFile and BackingFormat are this image's reference to the next
	// layer, exactly as written in its header.
	BackingFile   string
	BackingFormat string
	// Info is the full header information of a local layer.
	Info *ImageInfo
}

// Chain is a backing chain, top image first.
type Chain struct {
	Layers []Layer
}

type fileID struct{ dev, ino uint64 }

// DetectChain walks the backing chain starting at the image at path, whose
// format is format ("" to probe it, which needs opts.AllowProbe).
func DetectChain(path, format string, opts ChainOptions) (*Chain, error) {
	maxDepth := opts.MaxDepth
	if maxDepth <= 0 {
		maxDepth = DefaultMaxDepth
	}
	if format == "" && !opts.AllowProbe {
		return nil, fmt.Errorf("%w: format of '%s' is not declared; refusing to probe it (set the format in the domain XML)",
			ErrFormatNotDeclared, path)
	}
	if format != "" && !KnownFormat(format) {
		return nil, fmt.Errorf("%w: '%s' (image '%s')", ErrUnknownFormat, format, path)
	}

	chain := &Chain{}
	seen := make(map[fileID]string)
	cur, curFormat := path, format
	// The image that named cur, and the name it used; empty for the top.
	var parentPath, parentName string
	for {
		if len(chain.Layers) >= maxDepth {
			return nil, fmt.Errorf("%w: backing chain of '%s' has more than %d images",
				ErrTooDeep, path, maxDepth)
		}
		f, st, size, err := openImage(cur)
		if err != nil {
			if parentPath != "" && errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("%w: backing file '%s' of '%s' does not exist (looked for '%s')",
					ErrMissingBacking, parentName, parentPath, cur)
			}
			return nil, fmt.Errorf("cannot open image '%s': %w", cur, err)
		}
		// The identity comes from the open descriptor, so symlinks and hard
		// links are seen through and nothing can swap the file between the
		// check and the read.
		id := fileID{uint64(st.Dev), uint64(st.Ino)}
		if first, ok := seen[id]; ok {
			f.Close()
			return nil, fmt.Errorf("%w: backing file '%s' of '%s' is '%s', already in the chain",
				ErrLoop, parentName, parentPath, first)
		}
		seen[id] = cur
		info, err := inspectOpen(f, cur, st, size, curFormat)
		f.Close()
		if err != nil {
			return nil, err
		}
		chain.Layers = append(chain.Layers, Layer{
			Path:          cur,
			Format:        info.Format,
			Probed:        curFormat == "",
			VirtualSize:   info.VirtualSize,
			Allocation:    info.Allocation,
			PhysicalSize:  info.PhysicalSize,
			BackingFile:   info.BackingFile,
			BackingFormat: info.BackingFormat,
			Info:          info,
		})
		if info.BackingFile == "" {
			return chain, nil
		}

		next, proto, err := resolveBacking(cur, info.BackingFile)
		if err != nil {
			return nil, err
		}
		nextFormat := info.BackingFormat
		if nextFormat == "" && !opts.AllowProbe {
			return nil, fmt.Errorf("%w: backing file '%s' of '%s' has no declared format; refusing to probe it (set the format in the image or the domain XML)",
				ErrFormatNotDeclared, info.BackingFile, cur)
		}
		if nextFormat != "" && !KnownFormat(nextFormat) {
			return nil, fmt.Errorf("%w: '%s', declared for backing file '%s' of '%s'",
				ErrUnknownFormat, nextFormat, info.BackingFile, cur)
		}
		if proto != "" {
			if len(chain.Layers) >= maxDepth {
				return nil, fmt.Errorf("%w: backing chain of '%s' has more than %d images",
					ErrTooDeep, path, maxDepth)
			}
			chain.Layers = append(chain.Layers, Layer{Path: next, Protocol: proto, Format: nextFormat})
			return chain, nil
		}
		parentPath, parentName = cur, info.BackingFile
		cur, curFormat = next, nextFormat
	}
}

// Protocols QEMU accepts in a backing name. Anything else before a colon
// would make QEMU fail to open the name, so it is reported rather than
// silently taken for a file.
var networkProtocols = map[string]bool{
	"nbd": true, "nbd+tcp": true, "nbd+unix": true,
	"rbd": true, "iscsi": true, "iser": true, "nfs": true, "ssh": true,
	"gluster": true, "gluster+tcp": true, "gluster+unix": true, "gluster+rdma": true,
	"http": true, "https": true, "ftp": true, "ftps": true,
	"sheepdog": true, "vxhs": true, "json": true,
}

// resolveBacking turns the backing name written in the image at parent into
// what QEMU would open: a name with a colon before any slash is a protocol
// reference; a relative name is appended to parent's directory part (plain
// concatenation, like QEMU, so ".." is resolved by the kernel through any
// symlinks rather than lexically).
func resolveBacking(parent, name string) (path, proto string, err error) {
	if colon := strings.IndexByte(name, ':'); colon >= 0 {
		if slash := strings.IndexByte(name, '/'); slash < 0 || colon < slash {
			proto = name[:colon]
			if proto == "file" {
				rest := name[colon+1:]
				if strings.HasPrefix(rest, "/") {
					return rest, "", nil
				}
				return "", "", fmt.Errorf("%w: backing file '%s' of '%s' is a relative 'file:' name, which QEMU resolves against its working directory",
					ErrUnsupported, name, parent)
			}
			if !networkProtocols[proto] {
				return "", "", fmt.Errorf("%w: backing file '%s' of '%s' uses unknown protocol '%s'",
					ErrUnsupported, name, parent, proto)
			}
			return name, proto, nil
		}
	}
	if strings.HasPrefix(name, "/") {
		return name, "", nil
	}
	return parent[:strings.LastIndexByte(parent, '/')+1] + name, "", nil
}
