package qmp

import "context"

// keyValue is QEMU's KeyValue union in its numeric form.
type keyValue struct {
	Type string `json:"type"` // "number"
	Data uint32 `json:"data"`
}

// SendKey runs send-key with QEMU numeric key codes (qnum); holdMS 0
// leaves QEMU's default hold time.
func SendKey(ctx context.Context, e Executor, keys []uint32, holdMS uint32) error {
	args := struct {
		Keys     []keyValue `json:"keys"`
		HoldTime uint32     `json:"hold-time,omitempty"`
	}{HoldTime: holdMS}
	for _, k := range keys {
		args.Keys = append(args.Keys, keyValue{Type: "number", Data: k})
	}
	return run(ctx, e, "send-key", args, nil)
}
