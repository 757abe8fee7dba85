package main

// steer: which listener of a port's SO_REUSEPORT group the kernel gives new connections to, during a hand-over.
//
// Two processes share the port (the old one serving, the new one starting). Left to the kernel's hash, the new one
// gets about half of the new connections before it can answer them (403/500 while it starts). A classic BPF program
// attached to the group (SO_ATTACH_REUSEPORT_CBPF, through a socket of our own that joins it) returns the index of the
// socket to use: the group keeps its sockets in the order they joined it, so with two processes index 0 is the one
// that listened first (the old one) and index 1 the new one. An index the group does not have (one socket left, or
// the program's "no opinion") falls back to the hash. The program:
//   - destination PROBE (a loopback address no one else uses): index 1, so that a readiness check sent there
//     always reaches the new process;
//   - source in 127.0.0.0/8 or ::1: the hash, as without a program (each apiserver calls itself on the shared port
//     with a token only it accepts; the kernel cannot tell which process made the call, and steering them all to one
//     would starve the other's own calls);
//   - any other source: the index of --to (old: 0, new: 1).
// Detached with --to none, which reports whether a program was attached.

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"syscall"
	"unsafe"
)

// Socket options and classic BPF constants (asm-generic and linux/filter.h: the same on amd64 and arm64).
const (
	soAttachReuseportCBPF = 51
	soDetachReuseportBPF  = 68

	bpfLD, bpfW, bpfABS  = 0x00, 0x00, 0x20
	bpfALU, bpfAND, bpfK = 0x04, 0x50, 0x00
	bpfJMP, bpfJEQ       = 0x05, 0x10
	bpfRET               = 0x06

	skfAdOff      = -0x1000   // ancillary data: SKF_AD_OFF
	skfAdProtocol = 0         // skb->protocol, host order
	skfNetOff     = -0x100000 // from the network header: SKF_NET_OFF
	ethPIP        = 0x0800

	// An index no group has: the kernel falls back to its hash.
	indexHash = 0xffffffff
)

type sockFilter struct {
	code   uint16
	jt, jf uint8
	k      uint32
}

type steerArgs struct {
	port  int
	exe   string
	to    string // old, new or none
	probe [4]byte
}

func parseSteer(args []string) (steerArgs, error) {
	usage := fail(exitUsage, "usage: node-helper steer --port N --exe NAME --to old|new|none [--probe 127.X.Y.Z]")
	v := map[string]string{"--probe": "127.100.0.1"}
	seen := map[string]bool{}
	for i := 0; i < len(args); i++ {
		name, value, inline := strings.Cut(args[i], "=")
		switch name {
		case "--port", "--exe", "--to", "--probe":
		default:
			return steerArgs{}, usage
		}
		if seen[name] {
			return steerArgs{}, usage
		}
		seen[name] = true
		if !inline {
			if i+1 >= len(args) {
				return steerArgs{}, usage
			}
			i++
			value = args[i]
		}
		v[name] = value
	}
	share, err := parseSharePort([]string{"--port", v["--port"], "--exe", v["--exe"]})
	if err != nil {
		return steerArgs{}, err
	}
	a := steerArgs{port: share.port, exe: share.exe, to: v["--to"]}
	if a.to != "old" && a.to != "new" && a.to != "none" {
		return steerArgs{}, fail(exitUsage, "--to must be old, new or none, not %q", a.to)
	}
	ip, ok := parseIPv4(v["--probe"])
	if !ok || ip[0] != 127 || (ip[1] == 0 && ip[2] == 0) {
		return steerArgs{}, fail(exitUsage, "--probe must be an IPv4 loopback address outside 127.0.0.0/16, not %q", v["--probe"])
	}
	a.probe = ip
	return a, nil
}

// parseIPv4: dotted decimal only (the net package would add a sixth to the binary).
func parseIPv4(s string) ([4]byte, bool) {
	var ip [4]byte
	parts := strings.Split(s, ".")
	if len(parts) != 4 {
		return ip, false
	}
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || n > 255 || p != strconv.Itoa(n) {
			return ip, false
		}
		ip[i] = byte(n)
	}
	return ip, true
}

// program: the steering program for index `to` (0: old, 1: new), as described at the top of this file.
func program(to uint32, probe [4]byte) []sockFilter {
	ld := func(off int32) sockFilter { return sockFilter{code: bpfLD | bpfW | bpfABS, k: uint32(off)} }
	jeq := func(k uint32, jt, jf uint8) sockFilter {
		return sockFilter{code: bpfJMP | bpfJEQ | bpfK, jt: jt, jf: jf, k: k}
	}
	ret := func(k uint32) sockFilter { return sockFilter{code: bpfRET | bpfK, k: k} }
	p := uint32(probe[0])<<24 | uint32(probe[1])<<16 | uint32(probe[2])<<8 | uint32(probe[3])
	// Jump offsets count from the next instruction: 15 returns 1 (new), 16 the hash, 17 `to`.
	return []sockFilter{
		/* 0 */ ld(skfAdOff + skfAdProtocol),
		/* 1 */ jeq(ethPIP, 0, 5), // IPv4: 2, else IPv6: 7
		/* 2 */ ld(skfNetOff + 16), // IPv4 destination
		/* 3 */ jeq(p, 11, 0), // the probe address: 15
		/* 4 */ ld(skfNetOff + 12), // IPv4 source
		/* 5 */ {code: bpfALU | bpfAND | bpfK, k: 0xff000000},
		/* 6 */ jeq(0x7f000000, 9, 10), // 127/8: 16, else 17
		/* 7 */ ld(skfNetOff + 8), // IPv6 source, four words: ::1 is 0, 0, 0, 1; else 17
		/* 8 */ jeq(0, 0, 8),
		/* 9 */ ld(skfNetOff + 12),
		/* 10 */ jeq(0, 0, 6),
		/* 11 */ ld(skfNetOff + 16),
		/* 12 */ jeq(0, 0, 4),
		/* 13 */ ld(skfNetOff + 20),
		/* 14 */ jeq(1, 1, 2),
		/* 15 */ ret(1),
		/* 16 */ ret(indexHash),
		/* 17 */ ret(to),
	}
}

// steerResult is what steer prints.
type steerResult struct {
	To          string
	Listeners   []listener
	WasAttached bool
}

func (r steerResult) JSON() string {
	pids := make([]string, len(r.Listeners))
	for i, l := range r.Listeners {
		pids[i] = strconv.Itoa(l.pid)
	}
	return fmt.Sprintf(`{"to":%s,"listenerPids":[%s],"wasAttached":%t}`, strconv.Quote(r.To), strings.Join(pids, ","), r.WasAttached)
}

func steer(a steerArgs, root string) (steerResult, error) {
	ls, err := listenersOf(root, a.exe, a.port)
	if err != nil {
		return steerResult{}, err
	}
	if len(ls) == 0 {
		return steerResult{}, fail(exitNothing, "no %s process here listens on port %d", a.exe, a.port)
	}
	// With one listener, index 1 would be the socket withMember adds for a moment: no connection may go there.
	if a.to == "new" && len(ls) < 2 {
		return steerResult{}, fail(exitNothing, "only one %s listener on port %d: no new one to steer to", a.exe, a.port)
	}
	r := steerResult{To: a.to, Listeners: ls}
	// The program belongs to the group: any member's socket reaches it. Detaching first tells whether one was there.
	err = withCopy(ls[0], func(listener int) error {
		err := steerThrough(listener, a, &r)
		if errors.Is(err, errMPTCP) || errors.Is(err, errNoGroup) {
			// Go 1.24 and later listen with MPTCP where the kernel has it (kube-apiserver 1.34 does), and Linux refuses
			// reuseport programs on MPTCP sockets: through a TCP socket of our own in the group instead (withMember).
			// Attached without a detach first (attaching replaces a program at once): between the two, the hash could
			// give our socket a connection, which its close would reset. Whether one was there is then not known.
			return withMember(listener, a, func(member int) error {
				if a.to == "none" {
					return steerThrough(member, a, &r)
				}
				return attach(member, a)
			})
		}
		return err
	})
	return r, err
}

// errMPTCP: the socket refused the program's socket options (EOPNOTSUPP, net/mptcp/sockopt.c): an MPTCP listener.
var errMPTCP = errors.New("an MPTCP socket: no reuseport program through it")

// errNoGroup: a listener given SO_REUSEPORT in place (share-port) is in no group until a second socket joins it (the
// kernel makes the group then), so a program cannot be attached to it alone (EINVAL); withMember's socket joining
// makes the group, which stays after that socket has gone.
var errNoGroup = errors.New("a listener alone, shared in place: no SO_REUSEPORT group yet")

// steerThrough detaches the group's program (noting whether there was one) and, unless --to none, attaches the
// steering program, through fd, a socket of the group: the listener's own (a copy of it), or withMember's.
func steerThrough(fd int, a steerArgs, r *steerResult) error {
	// The kernel reads an int for every socket option, this one included (and ignores it).
	zero := int32(0)
	_, _, e := syscall.Syscall6(syscall.SYS_SETSOCKOPT, uintptr(fd), syscall.SOL_SOCKET, soDetachReuseportBPF, uintptr(unsafe.Pointer(&zero)), 4, 0)
	switch {
	case e == 0:
		r.WasAttached = true
	case errors.Is(e, syscall.ENOENT):
	case errors.Is(e, syscall.EOPNOTSUPP):
		return errMPTCP
	case errors.Is(e, syscall.EINVAL):
		return fail(exitNothing, "the %s socket on port %d does not have SO_REUSEPORT: nothing to steer", a.exe, a.port)
	default:
		return classify("setsockopt SO_DETACH_REUSEPORT_BPF", e)
	}
	if a.to == "none" {
		return nil
	}
	return attach(fd, a)
}

// attach attaches the steering program for --to through fd, replacing any program the group has.
func attach(fd int, a steerArgs) error {
	to := uint32(0)
	if a.to == "new" {
		to = 1
	}
	prog := program(to, a.probe)
	fprog := struct {
		len    uint16
		_      [6]byte
		filter *sockFilter
	}{len: uint16(len(prog)), filter: &prog[0]}
	if _, _, e := syscall.Syscall6(syscall.SYS_SETSOCKOPT, uintptr(fd), syscall.SOL_SOCKET, soAttachReuseportCBPF, uintptr(unsafe.Pointer(&fprog)), unsafe.Sizeof(fprog), 0); e != 0 {
		if errors.Is(e, syscall.EINVAL) {
			return errNoGroup
		}
		if errors.Is(e, syscall.ENOPROTOOPT) {
			return fail(exitUnsupported, "setsockopt SO_ATTACH_REUSEPORT_CBPF: the kernel does not have it (%v)", e)
		}
		return classify("setsockopt SO_ATTACH_REUSEPORT_CBPF", e)
	}
	return nil
}

// withMember runs f with a listening TCP socket of our own in the SO_REUSEPORT group of the listener behind fd (a
// copy of it): the same family, address, port and IPV6_V6ONLY, SO_REUSEPORT, and our uid (root, as the
// control-plane processes). The program is attached and detached through it because Linux refuses both on an MPTCP
// socket (EOPNOTSUPP, net/mptcp/sockopt.c), and Go 1.24 and later listen with MPTCP wherever the kernel has it
// (kube-apiserver 1.34 does); the group is the subflow's TCP listener's, which our socket joins
// (scripts/experiments/reuseport-mptcp shows it). It is closed as soon as f returns: it is then still the group's
// last socket, so no other socket moves into its slot and the indices the program returns stay the listeners'.
// While it is a member (a few system calls), a new connection may be given to it (by the hash before the first
// program is attached, or by the program's index 1 for the probe address when one listener is there), which its close
// resets unless net.ipv4.tcp_migrate_req moves it to another listener (pivot sets it first). Detaching first widened
// that window (2 resets once in the unit test's hand-over under heavy load), so --to old|new attach only. Only MPTCP
// listeners take this way.
func withMember(fd int, a steerArgs, f func(member int) error) error {
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		return classify("getsockname", err)
	}
	family, v6only := syscall.AF_INET, 0
	switch sa.(type) {
	case *syscall.SockaddrInet4:
	case *syscall.SockaddrInet6:
		family = syscall.AF_INET6
		if v6only, err = syscall.GetsockoptInt(fd, syscall.IPPROTO_IPV6, syscall.IPV6_V6ONLY); err != nil {
			return classify("getsockopt IPV6_V6ONLY", err)
		}
	default:
		return fail(exitNothing, "the %s socket on port %d is neither IPv4 nor IPv6: nothing to steer", a.exe, a.port)
	}
	if on, err := syscall.GetsockoptInt(fd, syscall.SOL_SOCKET, soReuseport); err != nil {
		return classify("getsockopt SO_REUSEPORT", err)
	} else if on == 0 {
		return fail(exitNothing, "the %s socket on port %d does not have SO_REUSEPORT: nothing to steer", a.exe, a.port)
	}
	m, err := syscall.Socket(family, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return classify("socket", err)
	}
	defer syscall.Close(m)
	if err := syscall.SetsockoptInt(m, syscall.SOL_SOCKET, soReuseport, 1); err != nil {
		return classify("setsockopt SO_REUSEPORT", err)
	}
	// SO_REUSEADDR as well, as Go's listeners have it: the connections a listener accepted before it was shared in
	// place are bound to the port without SO_REUSEPORT, and only SO_REUSEADDR on both sides lets a bind pass them
	// (inet_bind_conflict); without it the bind fails with EADDRINUSE beside any apiserver that has clients.
	if err := syscall.SetsockoptInt(m, syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1); err != nil {
		return classify("setsockopt SO_REUSEADDR", err)
	}
	if family == syscall.AF_INET6 {
		if err := syscall.SetsockoptInt(m, syscall.IPPROTO_IPV6, syscall.IPV6_V6ONLY, v6only); err != nil {
			return classify("setsockopt IPV6_V6ONLY", err)
		}
	}
	if err := syscall.Bind(m, sa); err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return fail(exitNothing, "cannot join the SO_REUSEPORT group of the %s socket on port %d (%v; a listener of another user?): nothing to steer", a.exe, a.port, err)
		}
		return classify("bind", err)
	}
	if err := syscall.Listen(m, 1); err != nil {
		return classify("listen", err)
	}
	return f(m)
}
