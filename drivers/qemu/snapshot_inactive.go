package qemu

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"

	"govirt/virerr"
)

// takeOverlaysInactive is qemuSnapshotCreateInactiveExternal: qemu-img
// makes each overlay on top of the image the persistent definition
// names, then the definition uses the overlays. A failure removes the
// files this call created.
func (d *Driver) takeOverlaysInactive(v *vm, plans []*overlayPlan, reuse bool) error {
	var created []string
	undo := func() {
		for _, p := range created {
			os.Remove(p)
		}
	}
	for _, p := range plans {
		if reuse {
			break
		}
		bfmt := p.oldTop.Format
		if bfmt == "" {
			bfmt = "raw"
		}
		existed := fileExists(p.overlay.Path)
		err := runQemuImg("create", "-f", p.overlay.Format,
			"-o", "backing_fmt="+bfmt+",backing_file="+escapeComma(p.oldTop.Path), p.overlay.Path)
		if !existed && fileExists(p.overlay.Path) {
			created = append(created, p.overlay.Path)
		}
		if err != nil {
			undo()
			return err
		}
	}
	for _, p := range plans {
		if err := d.overlayConfig(v, p, !reuse && hasBacking(&p.oldTop)); err != nil {
			undo()
			return err
		}
	}
	return nil
}

// escapeComma doubles commas, as QEMU's option syntax wants them.
func escapeComma(s string) string { return strings.ReplaceAll(s, ",", ",,") }

// runQemuImg runs qemu-img and reports a failure as libvirt's
// virCommandRun does: the command line, how it ended and its stderr.
func runQemuImg(args ...string) error {
	bin, err := exec.LookPath("qemu-img")
	if err != nil {
		return errQEMU(virerr.ErrInternalError, "unable to find qemu-img")
	}
	var stderr bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Stderr = &stderr
	err = cmd.Run()
	if err == nil {
		return nil
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return errQEMU(virerr.ErrSystemError, "Cannot run '%s': %v", bin, err)
	}
	how := fmt.Sprintf("exit status %d", ee.ExitCode())
	if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		how = fmt.Sprintf("fatal signal %d", ws.Signal())
	}
	line := strings.Join(append([]string{bin}, args...), " ")
	if msg := strings.TrimSpace(stderr.String()); msg != "" {
		return errQEMU(virerr.ErrInternalError, "Child process (%s) unexpected %s: %s", line, how, msg)
	}
	return errQEMU(virerr.ErrInternalError, "Child process (%s) unexpected %s", line, how)
}
