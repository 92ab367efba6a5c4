package storage

import "errors"

// Sentinel errors. Every error returned by this package that belongs to one
// of these classes wraps the sentinel with %w, so that the driver can map it
// to a libvirt error code with errors.Is while the message keeps the paths
// involved.
var (
	// ErrInvalidImage: a header is truncated, inconsistent or carries values
	// no writer produces (absurd offsets, sizes or name lengths).
	ErrInvalidImage = errors.New("invalid image")
	// ErrUnknownFormat: a format name (passed in or declared by an image)
	// that this package cannot inspect.
	ErrUnknownFormat = errors.New("unknown image format")
	// ErrUnsupported: a recognised format using a feature this package does
	// not follow (differencing VHDs, relative "file:" backing names, ...).
	ErrUnsupported = errors.New("unsupported image feature")
	// ErrLoop: the same file appears twice in a backing chain.
	ErrLoop = errors.New("backing chain loop")
	// ErrMissingBacking: a backing file named by an image does not exist.
	ErrMissingBacking = errors.New("missing backing file")
	// ErrTooDeep: the chain is longer than ChainOptions.MaxDepth.
	ErrTooDeep = errors.New("backing chain too deep")
	// ErrFormatNotDeclared: an image whose format nobody declared would have
	// to be probed, and probing was not allowed.
	ErrFormatNotDeclared = errors.New("image format not declared")
)
