package qemu

import (
	"crypto/sha256"
	"sync"

	"govirt/drivers/qemu/caps"
)

// capsShare keeps one copy of each QEMU binary's capabilities as status
// files store them, shared by every guest of that binary: encoded per
// start they were ~110 KiB a guest, most of the daemon's memory with
// hundreds of guests. Guests reconnected after a restart share one
// decoded object per distinct status blob the same way. Both kinds are
// read-only once made.
type capsShare struct {
	mu      sync.Mutex
	encMu   sync.Mutex                       // serialises json's encodings
	encoded map[*caps.Caps][]byte            // by the cache's (or a decoded) object
	decoded map[[sha256.Size]byte]*caps.Caps // by the status blob's hash
}

// capsShareMax bounds the maps: there is one entry per binary (and per
// re-probe after a QEMU upgrade), so reaching it means entries of
// replaced capabilities piled up; starting over only costs a re-encode.
const capsShareMax = 16

// json returns qc as status files store it (capsJSON), encoded once.
func (s *capsShare) json(qc *caps.Caps) ([]byte, error) {
	s.mu.Lock()
	data, ok := s.encoded[qc]
	s.mu.Unlock()
	if ok {
		return data, nil
	}
	// One encoder at a time: the parallel starts of a fresh daemon all
	// miss at once, and each encoding the same ~110 KiB was CPU the
	// others' QEMUs needed; the ones behind find the first one's copy.
	s.encMu.Lock()
	defer s.encMu.Unlock()
	s.mu.Lock()
	data, ok = s.encoded[qc]
	s.mu.Unlock()
	if ok {
		return data, nil
	}
	data, err := capsJSON(qc)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if prev, ok := s.encoded[qc]; ok {
		return prev, nil
	}
	if s.encoded == nil || len(s.encoded) >= capsShareMax {
		s.encoded = map[*caps.Caps][]byte{}
	}
	s.encoded[qc] = data
	return data, nil
}

// fromStatus decodes a status file's capabilities (nil when it has none)
// and returns them with the blob to keep, both shared with every other
// guest whose status carries the same bytes.
func (s *capsShare) fromStatus(st *status) (*caps.Caps, []byte, error) {
	qc, err := st.caps()
	if err != nil || qc == nil {
		return nil, nil, err
	}
	sum := sha256.Sum256(st.Caps)
	s.mu.Lock()
	defer s.mu.Unlock()
	if prev, ok := s.decoded[sum]; ok {
		if data, ok := s.encoded[prev]; ok {
			return prev, data, nil
		}
	}
	if s.decoded == nil || len(s.decoded) >= capsShareMax {
		s.decoded = map[[sha256.Size]byte]*caps.Caps{}
	}
	if s.encoded == nil || len(s.encoded) >= capsShareMax {
		s.encoded = map[*caps.Caps][]byte{}
	}
	s.decoded[sum], s.encoded[qc] = qc, st.Caps
	return qc, st.Caps, nil
}
