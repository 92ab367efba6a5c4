package driver

// Memory stat tags (virDomainMemoryStatTags).
const (
	MemStatSwapIn        = 0
	MemStatSwapOut       = 1
	MemStatMajorFault    = 2
	MemStatMinorFault    = 3
	MemStatUnused        = 4
	MemStatAvailable     = 5
	MemStatActualBalloon = 6
	MemStatRSS           = 7
	MemStatUsable        = 8
	MemStatLastUpdate    = 9
	MemStatDiskCaches    = 10
	MemStatHugetlbAlloc  = 11
	MemStatHugetlbFail   = 12
)
