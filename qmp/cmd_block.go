package qmp

import "context"

// Block nodes and removable media.

// BlockdevAdd runs blockdev-add; opts is the node's BlockdevOptions
// object ("driver", "node-name", ...), as the command builder makes it.
func BlockdevAdd(ctx context.Context, e Executor, opts any) error {
	return run(ctx, e, "blockdev-add", opts, nil)
}

// BlockdevDel runs blockdev-del.
func BlockdevDel(ctx context.Context, e Executor, nodeName string) error {
	return run(ctx, e, "blockdev-del", struct {
		NodeName string `json:"node-name"`
	}{nodeName}, nil)
}

// BlockInfo is an entry of query-block.
type BlockInfo struct {
	Device    string `json:"device"`
	QDev      string `json:"qdev"`
	Removable bool   `json:"removable"`
	Locked    bool   `json:"locked"`
	TrayOpen  *bool  `json:"tray_open"` // nil for a device without a tray
}

// QueryBlock runs query-block.
func QueryBlock(ctx context.Context, e Executor) ([]BlockInfo, error) {
	var l []BlockInfo
	err := run(ctx, e, "query-block", nil, &l)
	return l, err
}

// BlockNode is an entry of query-named-block-nodes.
type BlockNode struct {
	NodeName string `json:"node-name"`
	Drv      string `json:"drv"`
	File     string `json:"file"`
	Image    struct {
		VirtualSize uint64 `json:"virtual-size"`
		ActualSize  uint64 `json:"actual-size"`
	} `json:"image"`
}

// QueryNamedBlockNodes runs query-named-block-nodes with flat set (each
// node once, without its backing chain nested).
func QueryNamedBlockNodes(ctx context.Context, e Executor) ([]BlockNode, error) {
	var l []BlockNode
	err := run(ctx, e, "query-named-block-nodes", struct {
		Flat bool `json:"flat"`
	}{true}, &l)
	return l, err
}

// BlockStats is an entry of query-blockstats.
type BlockStats struct {
	Device   string `json:"device"`
	QDev     string `json:"qdev"`
	NodeName string `json:"node-name"`
	Stats    struct {
		RdBytes          int64  `json:"rd_bytes"`
		WrBytes          int64  `json:"wr_bytes"`
		RdOps            int64  `json:"rd_operations"`
		WrOps            int64  `json:"wr_operations"`
		FlushOps         int64  `json:"flush_operations"`
		RdTotalTimeNs    int64  `json:"rd_total_time_ns"`
		WrTotalTimeNs    int64  `json:"wr_total_time_ns"`
		FlushTotalTimeNs int64  `json:"flush_total_time_ns"`
		WrHighestOffset  uint64 `json:"wr_highest_offset"`
	} `json:"stats"`
}

// QueryBlockstats runs query-blockstats: per device, or with queryNodes
// per block node.
func QueryBlockstats(ctx context.Context, e Executor, queryNodes bool) ([]BlockStats, error) {
	var args any
	if queryNodes {
		args = struct {
			QueryNodes bool `json:"query-nodes"`
		}{true}
	}
	var l []BlockStats
	err := run(ctx, e, "query-blockstats", args, &l)
	return l, err
}

// BlockdevOpenTray runs blockdev-open-tray on the device with QOM id.
func BlockdevOpenTray(ctx context.Context, e Executor, qomID string, force bool) error {
	return run(ctx, e, "blockdev-open-tray", struct {
		ID    string `json:"id"`
		Force bool   `json:"force"`
	}{qomID, force}, nil)
}

// BlockdevCloseTray runs blockdev-close-tray.
func BlockdevCloseTray(ctx context.Context, e Executor, qomID string) error {
	return run(ctx, e, "blockdev-close-tray", id{qomID}, nil)
}

// BlockdevRemoveMedium runs blockdev-remove-medium.
func BlockdevRemoveMedium(ctx context.Context, e Executor, qomID string) error {
	return run(ctx, e, "blockdev-remove-medium", id{qomID}, nil)
}

// BlockdevInsertMedium runs blockdev-insert-medium.
func BlockdevInsertMedium(ctx context.Context, e Executor, qomID, nodeName string) error {
	return run(ctx, e, "blockdev-insert-medium", struct {
		ID       string `json:"id"`
		NodeName string `json:"node-name"`
	}{qomID, nodeName}, nil)
}

// TransactionAction is one action of a transaction.
type TransactionAction struct {
	Type string `json:"type"`
	Data any    `json:"data"`
}

// BlockdevSnapshotAction is the blockdev-snapshot action: overlay (a
// node already added, without backing) goes on top of node.
func BlockdevSnapshotAction(node, overlay string) TransactionAction {
	return TransactionAction{Type: "blockdev-snapshot", Data: struct {
		Node    string `json:"node"`
		Overlay string `json:"overlay"`
	}{node, overlay}}
}

// Transaction runs transaction: all actions or none.
func Transaction(ctx context.Context, e Executor, actions []TransactionAction) error {
	return run(ctx, e, "transaction", struct {
		Actions []TransactionAction `json:"actions"`
	}{actions}, nil)
}
