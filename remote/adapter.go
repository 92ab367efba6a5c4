package remote

// startKeepalive is called when the client asks about the keepalive
// feature; the RPC connection then pings it and drops it when it goes silent.
func (h *handler) startKeepalive() {
	if k, ok := h.peer.(interface{ EnableKeepalive() }); ok {
		k.EnableKeepalive()
	}
}
