package nwfilter

import (
	"bytes"
	"fmt"
	"os/exec"
	"strings"
)

// A small model of libvirt's virFirewall: groups of commands run in
// order, each group with its rollback commands (run when one of its
// commands fails) and the option to ignore every error; single commands
// may ignore their error too, and a query command's output may add more
// commands. The dry-run text is what libvirt's test mock prints.

type fwLayer int

const (
	layerEthernet fwLayer = iota
	layerIPv4
	layerIPv6
)

// program and the fixed arguments libvirt gives each tool.
func (l fwLayer) argv() []string {
	switch l {
	case layerIPv4:
		return []string{"iptables", "-w"}
	case layerIPv6:
		return []string{"ip6tables", "-w"}
	}
	return []string{"ebtables", "--concurrent"}
}

type fwRule struct {
	layer  fwLayer
	args   []string
	ignore bool
	query  func(fw *firewall, layer fwLayer, lines []string)
}

func (r *fwRule) add(args ...string) { r.args = append(r.args, args...) }

type fwGroup struct {
	ignoreErrors bool
	rules        []*fwRule
	rollback     []*fwRule
}

type firewall struct {
	groups     []*fwGroup
	cur        *fwGroup
	inRollback bool
	// pending collects commands a query adds while the firewall runs.
	pending *[]*fwRule
}

func (f *firewall) start(ignoreErrors bool) {
	f.cur = &fwGroup{ignoreErrors: ignoreErrors}
	f.groups = append(f.groups, f.cur)
	f.inRollback = false
}

func (f *firewall) startRollback() { f.inRollback = true }

func (f *firewall) addFull(l fwLayer, ignore bool, query func(*firewall, fwLayer, []string), args ...string) *fwRule {
	r := &fwRule{layer: l, args: args, ignore: ignore, query: query}
	switch {
	case f.pending != nil:
		*f.pending = append(*f.pending, r)
	case f.inRollback:
		f.cur.rollback = append(f.cur.rollback, r)
	default:
		f.cur.rules = append(f.cur.rules, r)
	}
	return r
}

func (f *firewall) addRule(l fwLayer, args ...string) *fwRule {
	return f.addFull(l, false, nil, args...)
}

func (f *firewall) removeRule(r *fwRule) {
	for i, x := range f.cur.rules {
		if x == r {
			f.cur.rules = append(f.cur.rules[:i], f.cur.rules[i+1:]...)
			return
		}
	}
}

// runner runs one command and returns its output.
type runner func(argv []string) (string, error)

// apply runs the groups as virFirewallApply: a failing command (not
// ignored) runs its group's rollback and ends with the error.
func (f *firewall) apply(run runner) error {
	for _, g := range f.groups {
		if err := f.runAll(run, g.rules, g.ignoreErrors); err != nil {
			_ = f.runAll(run, g.rollback, true)
			return err
		}
	}
	return nil
}

// runAll runs rules; commands a query adds go at the end of the list,
// as libvirt appends them to the group being applied (so a chain is
// deleted only after the chains jumping to it were flushed).
func (f *firewall) runAll(run runner, rules []*fwRule, ignoreAll bool) error {
	rules = append([]*fwRule(nil), rules...)
	for i := 0; i < len(rules); i++ {
		r := rules[i]
		argv := append(r.layer.argv(), r.args...)
		out, err := run(argv)
		if err != nil && !r.ignore && !ignoreAll {
			return err
		}
		if r.query != nil {
			var more []*fwRule
			f.pending = &more
			var lines []string
			if err == nil && out != "" {
				lines = strings.Split(strings.TrimRight(out, "\n"), "\n")
			}
			r.query(f, r.layer, lines)
			f.pending = nil
			rules = append(rules, more...)
		}
	}
	return nil
}

// dryRun renders the commands as libvirt's dry-run mock
// (virCommandToStringBuf with line breaks): a line per option with its
// value, shell-quoted where needed; queries return nothing.
func dryRun(buf *strings.Builder) runner {
	return func(argv []string) (string, error) {
		buf.WriteString(shellQuote(argv[0]))
		hadOption := false
		for i := 1; i < len(argv); i++ {
			buf.WriteByte(' ')
			linebreak := true
			if !strings.HasPrefix(argv[i], "-") {
				if hadOption {
					for j := i - 1; j < len(argv); j++ {
						if strings.HasPrefix(argv[j], "-") {
							linebreak = false
							break
						}
					}
				}
			} else {
				hadOption = true
			}
			if linebreak {
				buf.WriteString("\\\n")
			}
			buf.WriteString(shellQuote(argv[i]))
		}
		buf.WriteString("\n")
		return "", nil
	}
}

// shellQuote is virBufferEscapeShell.
func shellQuote(s string) string {
	if s == "" {
		return "''"
	}
	if !strings.ContainsAny(s, "\r\t\n !\"#$&'()*;<>?[\\]^`{|}~") {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// execRunner runs the tools for real.
func execRunner(argv []string) (string, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("%s: %v: %s", strings.Join(argv, " "), err, strings.TrimSpace(errb.String()))
	}
	return out.String(), nil
}
