// Package conf is libvirt's XML object model: domain, network, storage pool
// and volume, snapshot and capabilities documents.
//
// Contract every document type keeps:
//   - Parse* reads libvirt XML into typed fields for what drivers act on, and
//     keeps everything else (unknown elements and attributes, <metadata>)
//     so that Format writes it back unchanged: nothing a user wrote is lost.
//   - Parse* applies libvirt's defaults (uuid generated when absent, memory
//     normalised to KiB, ...).
//   - With ParseValidate, anything outside libvirt's schema is rejected with
//     an error naming it.
//   - Errors are *virerr.Error with libvirt's code and domain
//     (VIR_ERR_XML_ERROR / VIR_ERR_XML_DETAIL, VIR_FROM_DOMAIN, ...).
//   - Format after Parse after Format is a fixed point.
//   - Clone returns a deep copy sharing nothing with the original.
package conf

// ParseFlags change how documents are read.
type ParseFlags uint32

const (
	// ParseValidate rejects anything outside libvirt's RelaxNG schema
	// (VIR_DOMAIN_DEFINE_VALIDATE).
	ParseValidate ParseFlags = 1 << iota
	// ParseLive accepts live-only data (domain id, runtime state) as a
	// status file or a live XML carries it.
	ParseLive
)

// FormatFlags are libvirt's VIR_DOMAIN_XML_* flags, same bit values.
type FormatFlags uint32

const (
	FormatSecure     FormatFlags = 1 << 0
	FormatInactive   FormatFlags = 1 << 1
	FormatUpdateCPU  FormatFlags = 1 << 2
	FormatMigratable FormatFlags = 1 << 3
	// FormatStatus is internal, never a client flag: the status file's
	// view, which keeps data only the daemon needs (block node names in
	// <privateData>), as libvirt's VIR_DOMAIN_DEF_FORMAT_STATUS.
	FormatStatus FormatFlags = 1 << 30
)
