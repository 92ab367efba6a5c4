package driver

// JobInfo is virDomainJobInfo, the legacy job progress record.
type JobInfo struct {
	Type          int32 // VIR_DOMAIN_JOB_NONE 0, BOUNDED 1, UNBOUNDED 2
	TimeElapsed   uint64
	DataTotal     uint64
	DataProcessed uint64
	DataRemaining uint64
}

// DomainJobs reports and aborts long operations (save, migration) that run
// alongside queries.
type DomainJobs interface {
	DomainGetJobInfo(d Domain) (JobInfo, error)
	DomainGetJobStats(d Domain, flags uint32) (int32, []TypedParam, error)
	DomainAbortJob(d Domain) error
}

// DomainJobAbortFlags is virDomainAbortJobFlags (VIR_DOMAIN_ABORT_JOB_*).
type DomainJobAbortFlags interface {
	DomainAbortJobFlags(d Domain, flags uint32) error
}
