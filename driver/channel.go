package driver

// ChannelForce is VIR_DOMAIN_CHANNEL_FORCE: take the channel over from
// another session.
const ChannelForce uint32 = 1 << 0

// DomainChannels opens guest channels (virDomainOpenChannel); the session
// behaves as a console session does.
type DomainChannels interface {
	DomainOpenChannel(d Domain, name string, flags uint32) (ConsoleSession, error)
}
