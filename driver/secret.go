package driver

import "govirt/uuid"

// Secret identifies a secret as the wire does: its UUID and its usage
// (type and ID; type 0 and "" for a secret without usage).
type Secret struct {
	UUID      uuid.UUID
	UsageType int32
	UsageID   string
}

// Secrets is the secret API (virSecret*, virConnect*Secrets) of a driver
// with a secret store.
type Secrets interface {
	// ListAllSecrets filters by VIR_CONNECT_LIST_SECRETS_* flags.
	ListAllSecrets(flags uint32) ([]Secret, error)
	NumOfSecrets() (int32, error)
	// ListSecrets returns at most maxuuids UUIDs (virConnectListSecrets).
	ListSecrets(maxuuids int32) ([]string, error)
	LookupSecretByUUID(u uuid.UUID) (Secret, error)
	LookupSecretByUsage(usageType int32, usageID string) (Secret, error)
	SecretDefineXML(xml string, flags uint32) (Secret, error)
	SecretGetXMLDesc(s Secret, flags uint32) (string, error)
	SecretSetValue(s Secret, value []byte, flags uint32) error
	SecretGetValue(s Secret, flags uint32) ([]byte, error)
	SecretUndefine(s Secret) error
}

// SecretEvent is a secret event: a lifecycle event
// (VIR_SECRET_EVENT_ID_LIFECYCLE, Event one of SecretEvent*) or, with
// ValueChanged set, VIR_SECRET_EVENT_ID_VALUE_CHANGED.
type SecretEvent struct {
	Secret       Secret
	ValueChanged bool
	Event        int32
	Detail       int32
}

// Secret lifecycle event types.
const (
	SecretEventDefined   int32 = 0
	SecretEventUndefined int32 = 1
)
