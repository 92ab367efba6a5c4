package driver

// ListFacts are what virConnectListAllDomains flags filter on.
type ListFacts struct {
	Active, Persistent, ManagedSave, Autostart, HasSnapshot, HasCheckpoint bool
	State                                                                  State
}

// virConnectListAllDomainsFlags.
const (
	ListActive        = 1 << 0
	ListInactive      = 1 << 1
	ListPersistent    = 1 << 2
	ListTransient     = 1 << 3
	ListRunning       = 1 << 4
	ListPaused        = 1 << 5
	ListShutoff       = 1 << 6
	ListOther         = 1 << 7
	ListManagedSave   = 1 << 8
	ListNoManagedSave = 1 << 9
	ListAutostart     = 1 << 10
	ListNoAutostart   = 1 << 11
	ListHasSnapshot   = 1 << 12
	ListNoSnapshot    = 1 << 13
	ListHasCheckpoint = 1 << 14
	ListNoCheckpoint  = 1 << 15
)

// MatchList applies libvirt's list filter: within a group of flags any
// may match, and every group given must match.
func MatchList(flags uint32, f ListFacts) bool {
	if flags == 0 {
		return true
	}
	pair := func(yes, no uint32, v bool) bool {
		if flags&(yes|no) == 0 || flags&(yes|no) == yes|no {
			return true
		}
		return (flags&yes != 0) == v
	}
	if !pair(ListActive, ListInactive, f.Active) ||
		!pair(ListPersistent, ListTransient, f.Persistent) ||
		!pair(ListManagedSave, ListNoManagedSave, f.ManagedSave) ||
		!pair(ListAutostart, ListNoAutostart, f.Autostart) ||
		!pair(ListHasSnapshot, ListNoSnapshot, f.HasSnapshot) ||
		!pair(ListHasCheckpoint, ListNoCheckpoint, f.HasCheckpoint) {
		return false
	}
	if st := flags & (ListRunning | ListPaused | ListShutoff | ListOther); st != 0 {
		var bit uint32
		switch f.State {
		case StateRunning:
			bit = ListRunning
		case StatePaused:
			bit = ListPaused
		case StateShutoff:
			bit = ListShutoff
		default:
			bit = ListOther
		}
		if st&bit == 0 {
			return false
		}
	}
	return true
}
