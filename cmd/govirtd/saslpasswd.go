package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"
	"unsafe"

	"govirt/atomicfile"
	"govirt/rpc/sasl"
)

// saslPasswdMain is `govirtd sasl-passwd`, govirt's saslpasswd2: it adds,
// changes or deletes a user of the SASL user file. Only salted verifiers
// are written (SCRAM-SHA-256, SCRAM-SHA-1 and DIGEST-MD5's hash), never
// the password.
func saslPasswdMain(args []string) int {
	fs := flag.NewFlagSet("govirtd sasl-passwd", flag.ContinueOnError)
	file := fs.String("f", DefaultSASLUsers, "user file (the daemon's sasl_users)")
	realm := fs.String("r", sasl.DefaultRealm, "DIGEST-MD5 realm (the daemon's sasl_realm)")
	del := fs.Bool("d", false, "delete the user")
	pipe := fs.Bool("p", false, "read the password from standard input, without prompting")
	list := fs.Bool("l", false, "list the users")
	iter := fs.Int("i", sasl.DefaultIterations, "SCRAM iteration count")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: govirtd sasl-passwd [-f FILE] [-r REALM] [-p] [-d] USER | -l")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if err := saslPasswd(*file, *realm, *del, *pipe, *list, *iter, fs.Args(), os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "govirtd sasl-passwd:", err)
		return 1
	}
	return 0
}

func saslPasswd(file, realm string, del, pipe, list bool, iter int, args []string, in *os.File, out io.Writer) error {
	us := sasl.NewUsers()
	if data, err := os.ReadFile(file); err == nil {
		if us, err = sasl.ParseUsers(strings.NewReader(string(data))); err != nil {
			return fmt.Errorf("%s: %w", file, err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if list {
		for _, n := range us.Names() {
			fmt.Fprintln(out, n)
		}
		return nil
	}
	if len(args) != 1 {
		return errors.New("give one user name")
	}
	name := args[0]
	if del {
		if !us.Delete(name) {
			return fmt.Errorf("user %q not found", name)
		}
	} else {
		pw, err := readPassword(in, pipe)
		if err != nil {
			return err
		}
		if err := us.SetPassword(name, pw, realm, iter); err != nil {
			return err
		}
	}
	return atomicfile.Write(file, us.Format(), 0o600)
}

// readPassword reads a line from in; on a terminal it prompts twice with
// echo off.
func readPassword(in *os.File, pipe bool) (string, error) {
	if pipe || !isTerminal(in) {
		line, err := bufio.NewReader(in).ReadString('\n')
		if err != nil && (err != io.EOF || line == "") {
			return "", errors.New("no password on standard input")
		}
		return strings.TrimRight(line, "\r\n"), nil
	}
	restore := noEcho(in)
	defer restore()
	r := bufio.NewReader(in)
	ask := func(prompt string) (string, error) {
		fmt.Fprint(os.Stderr, prompt)
		line, err := r.ReadString('\n')
		fmt.Fprintln(os.Stderr)
		return strings.TrimRight(line, "\r\n"), err
	}
	a, err := ask("Password: ")
	if err != nil {
		return "", err
	}
	b, err := ask("Again (for verification): ")
	if err != nil {
		return "", err
	}
	if a != b {
		return "", errors.New("passwords don't match")
	}
	return a, nil
}

func isTerminal(f *os.File) bool {
	var t syscall.Termios
	_, _, e := syscall.Syscall(syscall.SYS_IOCTL, f.Fd(), syscall.TCGETS, uintptr(unsafe.Pointer(&t)))
	return e == 0
}

func noEcho(f *os.File) func() {
	var t syscall.Termios
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, f.Fd(), syscall.TCGETS, uintptr(unsafe.Pointer(&t))); e != 0 {
		return func() {}
	}
	old := t
	t.Lflag &^= syscall.ECHO
	syscall.Syscall(syscall.SYS_IOCTL, f.Fd(), syscall.TCSETS, uintptr(unsafe.Pointer(&t)))
	return func() {
		syscall.Syscall(syscall.SYS_IOCTL, f.Fd(), syscall.TCSETS, uintptr(unsafe.Pointer(&old)))
	}
}
