package rpc

import (
	"govirt/virerr"
)

// ClientLimits is what the admin program's srv-clients-info shows.
type ClientLimits struct {
	MaxClients, Clients            uint32
	MaxAnonymousClients, Anonymous uint32
}

// ClientLimits reports the limits and the current counts.
func (s *Server) ClientLimits() ClientLimits {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.initLocked()
	return ClientLimits{
		MaxClients: uint32(s.maxCli), Clients: uint32(len(s.conns)),
		MaxAnonymousClients: uint32(s.maxAnon), Anonymous: uint32(s.nAnon),
	}
}

// SetClientLimits changes max_clients and max_anonymous_clients; a
// negative value leaves that limit as it is. As in libvirt the overall
// limit may not be below the anonymous one (max_anonymous_clients 0
// means no anonymous limit). Clients already connected stay; raising a
// limit lets waiting clients in at once.
func (s *Server) SetClientLimits(maxClients, maxAnonymous int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.initLocked()
	mc, ma := int64(s.maxCli), int64(s.maxAnon)
	if maxClients >= 0 {
		mc = maxClients
	}
	if maxAnonymous >= 0 {
		ma = maxAnonymous
	}
	if mc < ma {
		return virerr.New(virerr.FromRPC, virerr.ErrInvalidArg, "%s",
			"The overall maximum number of clients waiting for authentication must not be less than the overall maximum number of clients")
	}
	if mc > 1<<31-1 {
		mc = 1<<31 - 1
	}
	s.maxCli, s.maxAnon = int(mc), int(ma)
	s.slot.Broadcast()
	return nil
}

// WorkerParams are libvirt's thread pool settings (min_workers,
// max_workers, prio_workers). govirtd runs each call on its own goroutine,
// so they are kept and reported for the admin program but do not bound
// concurrency: max_client_requests and max_clients do.
type WorkerParams struct {
	Min, Max, Prio uint32
}

// DefaultWorkerParams are libvirtd's defaults.
var DefaultWorkerParams = WorkerParams{Min: 5, Max: 20, Prio: 5}

// ThreadPool is srv-threadpool-info's view.
type ThreadPool struct {
	WorkerParams
	// Workers is how many workers libvirt would have now: at least Min,
	// more while more calls run; Free are those without a call.
	Workers, Free, JobQueueDepth uint32
}

// ThreadPool reports the worker settings and current call activity.
func (s *Server) ThreadPool() ThreadPool {
	s.mu.Lock()
	s.initLocked()
	p := ThreadPool{WorkerParams: s.workers}
	conns := make([]*Conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	busy := uint32(0)
	for _, c := range conns {
		busy += uint32(len(c.sem))
	}
	p.Workers = max(p.Min, busy)
	if p.Max > 0 {
		p.Workers = min(p.Workers, p.Max)
	}
	p.Free = p.Workers - min(busy, p.Workers)
	return p
}

// SetThreadPool changes the worker settings; negative values leave a
// setting alone. The checks are libvirt's virThreadPoolSetParameters.
func (s *Server) SetThreadPool(minW, maxW, prio int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.initLocked()
	cur := s.workers
	mx, mn := int64(cur.Max), int64(cur.Min)
	if maxW >= 0 {
		mx = maxW
	}
	if minW >= 0 {
		mn = minW
	}
	if mn > mx {
		return virerr.New(virerr.FromNone, virerr.ErrInvalidArg, "%s", "minWorkers cannot be larger than maxWorkers")
	}
	if (maxW == 0 && cur.Max > 0) || (maxW > 0 && cur.Max == 0) {
		return virerr.New(virerr.FromNone, virerr.ErrInvalidArg, "%s", "maxWorkers must not be switched from zero to non-zero and vice versa")
	}
	if minW >= 0 {
		cur.Min = uint32(minW)
	}
	if maxW >= 0 {
		cur.Max = uint32(maxW)
	}
	if prio >= 0 {
		cur.Prio = uint32(prio)
	}
	s.workers = cur
	return nil
}

// SetWorkerParams sets the initial worker settings (from the config file)
// without the runtime checks' history rules.
func (s *Server) SetWorkerParams(p WorkerParams) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.initLocked()
	s.workers = p
}
