// Throwaway check (issue 13): can a classic BPF reuseport program be attached to a group whose listeners are Go's
// MPTCP sockets, through a plain TCP socket of our own that joins the group?
package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"sync"
	"syscall"
	"time"
	"unsafe"
)

const port = 18443
const soReuseport = 15

type sockFilter struct {
	code   uint16
	jt, jf uint8
	k      uint32
}
type sockFprog struct {
	len    uint16
	_      [6]byte
	filter *sockFilter
}

func attach(fd int, index uint32) error {
	prog := []sockFilter{{code: 0x06, k: index}} // ret #index
	fp := sockFprog{len: 1, filter: &prog[0]}
	_, _, e := syscall.Syscall6(syscall.SYS_SETSOCKOPT, uintptr(fd), syscall.SOL_SOCKET, 51, uintptr(unsafe.Pointer(&fp)), unsafe.Sizeof(fp), 0)
	if e != 0 {
		return e
	}
	return nil
}

func goListener() *net.TCPListener {
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var err error
		c.Control(func(fd uintptr) { err = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, soReuseport, 1) })
		return err
	}}
	lc.SetMultipathTCP(true)
	l, err := lc.Listen(context.Background(), "tcp", fmt.Sprintf(":%d", port))
	if err != nil {
		panic(err)
	}
	return l.(*net.TCPListener)
}

func fdOf(l *net.TCPListener) int {
	rc, _ := l.SyscallConn()
	var out int
	rc.Control(func(fd uintptr) { out = int(fd) })
	return out
}

// A plain TCP socket in the group: AF_INET6, [::], not v6-only, SO_REUSEPORT, as the Go listener.
func helperSocket() (int, error) {
	fd, err := syscall.Socket(syscall.AF_INET6, syscall.SOCK_STREAM, 0)
	if err != nil {
		return -1, err
	}
	syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, soReuseport, 1)
	syscall.SetsockoptInt(fd, syscall.IPPROTO_IPV6, syscall.IPV6_V6ONLY, 0)
	if err := syscall.Bind(fd, &syscall.SockaddrInet6{Port: port}); err != nil {
		syscall.Close(fd)
		return -1, fmt.Errorf("bind: %w", err)
	}
	if err := syscall.Listen(fd, 16); err != nil {
		syscall.Close(fd)
		return -1, fmt.Errorf("listen: %w", err)
	}
	return fd, nil
}

func count(name string, l *net.TCPListener, n *int, mu *sync.Mutex) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		mu.Lock()
		*n++
		mu.Unlock()
		c.Close()
	}
}

func round(label string, l1, l2 *net.TCPListener, conns int) {
	var mu sync.Mutex
	a, b := 0, 0
	// Accepting goroutines for this round only: the listeners stay open; deadlines end the loops.
	l1.SetDeadline(time.Now().Add(2 * time.Second))
	l2.SetDeadline(time.Now().Add(2 * time.Second))
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { count("old", l1, &a, &mu); wg.Done() }()
	go func() { count("new", l2, &b, &mu); wg.Done() }()
	for i := 0; i < conns; i++ {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
		if err == nil {
			c.Close()
		}
	}
	wg.Wait()
	fmt.Printf("%s: old %d, new %d of %d\n", label, a, b, conns)
}

func main() {
	l1 := goListener()
	l2 := goListener()
	fmt.Printf("Go listeners SO_PROTOCOL (262 = MPTCP): old %d, new %d\n", proto(l1), proto(l2))
	round("kernel hash", l1, l2, 40)
	if err := attach(fdOf(l1), 1); err != nil {
		fmt.Printf("attach through the Go (MPTCP) listener's own socket: %v\n", err)
	} else {
		fmt.Println("attach through the Go listener's own socket: ok")
	}
	h, err := helperSocket()
	if err != nil {
		fmt.Printf("helper socket cannot join the group: %v\n", err)
		os.Exit(1)
	}
	fmt.Println("helper socket joined the group (index 2)")
	if err := attach(h, 1); err != nil {
		fmt.Printf("attach through the helper's socket: %v\n", err)
		os.Exit(1)
	}
	syscall.Close(h) // the last socket of the group: no other moves into its slot
	round("program 'ret 1' attached through the helper's socket, helper closed", l1, l2, 40)
	h, _ = helperSocket()
	attach(h, 0)
	syscall.Close(h)
	round("program 'ret 0' attached the same way", l1, l2, 40)
	h, _ = helperSocket()
	zero := int32(0)
	_, _, e := syscall.Syscall6(syscall.SYS_SETSOCKOPT, uintptr(h), syscall.SOL_SOCKET, 68, uintptr(unsafe.Pointer(&zero)), 4, 0)
	fmt.Printf("SO_DETACH_REUSEPORT_BPF through the helper's socket: %v\n", e)
	syscall.Close(h)
	round("after detach (the hash again)", l1, l2, 40)
}

func proto(l *net.TCPListener) int {
	v, _ := syscall.GetsockoptInt(fdOf(l), syscall.SOL_SOCKET, 38)
	return v
}
