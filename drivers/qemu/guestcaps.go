package qemu

import "govirt/uuid"

func parseUUID(s string) (uuid.UUID, error) { return uuid.Parse(s) }
