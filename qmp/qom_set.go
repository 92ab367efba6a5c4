package qmp

import "context"

// QOMSet runs qom-set, setting property of the object at path to value.
func QOMSet(ctx context.Context, e Executor, path, property string, value any) error {
	return run(ctx, e, "qom-set", struct {
		Path     string `json:"path"`
		Property string `json:"property"`
		Value    any    `json:"value"`
	}{path, property, value}, nil)
}
