// kubectl-selfhost's node helper: what a node agent needs that a busybox shell cannot do. It is built from this
// directory for amd64 and arm64 (scripts/build-node-helper.sh), shipped inside the kubectl-selfhost binary, handed
// to the agent pod in a ConfigMap with its sha256, and removed with the pod.
//
//	node-helper probe
//	    what this node's kernel supports: pidfd_open/pidfd_getfd (Linux >= 5.6), net.ipv4.tcp_migrate_req (>= 5.14).
//	node-helper share-port --port N --exe NAME
//	    sets SO_REUSEPORT on the listening sockets of port N held by the processes named NAME in this network
//	    namespace, through a copy of each socket taken with pidfd_getfd, so that a second process can bind the same
//	    port beside them without restarting them (the kubelet's restart to add --permit-port-sharing is what it
//	    saves). It needs the host's PID namespace (to see the process) and CAP_SYS_PTRACE (pidfd_getfd is a ptrace
//	    attach); it changes nothing else, and nothing of it outlives the target's socket.
//	node-helper steer --port N --exe NAME --to old|new|none [--probe 127.X.Y.Z]
//	    attaches to the SO_REUSEPORT group of port N (through a copy of a socket of a process named NAME) a classic
//	    BPF program that gives new connections from other hosts to the old listener or to the new one, and those to
//	    the probe address to the new one (steer.go); none detaches it. Same privileges as share-port; the program
//	    lives as long as the group or until detached, and every run of the tool detaches it at the end.
//
// Output: one JSON object on stdout. Errors: one line on stderr and an exit code: 2 usage, 3 nothing to act on,
// 4 the kernel lacks the feature (the caller falls back), 5 not permitted, 1 anything else.
package main

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

const (
	exitFailed      = 1
	exitUsage       = 2
	exitNothing     = 3
	exitUnsupported = 4
	exitPermission  = 5
)

type failure struct {
	code int
	msg  string
}

func (f *failure) Error() string { return f.msg }

func fail(code int, format string, a ...any) error { return &failure{code, fmt.Sprintf(format, a...)} }

// classify turns a syscall error into the exit code the caller acts on.
func classify(what string, err error) error {
	switch {
	case errors.Is(err, syscall.ENOSYS):
		return fail(exitUnsupported, "%s: the kernel does not have it (%v)", what, err)
	case errors.Is(err, syscall.EPERM), errors.Is(err, syscall.EACCES):
		return fail(exitPermission, "%s: not permitted (%v); the helper needs CAP_SYS_PTRACE and the host's PID namespace", what, err)
	default:
		return fail(exitFailed, "%s: %v", what, err)
	}
}

// jsonValue: what a command prints. Written by hand: encoding/json would add a third to the binary, which travels to
// the node in a ConfigMap (at most 1 MiB).
type jsonValue interface{ JSON() string }

func main() {
	var out jsonValue
	var err error
	if len(os.Args) < 2 {
		err = fail(exitUsage, "usage: node-helper probe | share-port --port N --exe NAME | steer --port N --exe NAME --to old|new|none")
	} else {
		switch os.Args[1] {
		case "probe":
			out = probe()
		case "share-port":
			var a sharePortArgs
			if a, err = parseSharePort(os.Args[2:]); err == nil {
				out, err = sharePort(a, procRoot)
			}
		case "steer":
			var a steerArgs
			if a, err = parseSteer(os.Args[2:]); err == nil {
				out, err = steer(a, procRoot)
			}
		default:
			err = fail(exitUsage, "unknown command %q: use probe, share-port or steer", os.Args[1])
		}
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "node-helper: %v\n", err)
		var f *failure
		if errors.As(err, &f) {
			os.Exit(f.code)
		}
		os.Exit(exitFailed)
	}
	os.Stdout.WriteString(out.JSON() + "\n")
}
