package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"unsafe"
)

const procRoot = "/proc"

type sharePortArgs struct {
	port int
	exe  string
}

func parseSharePort(args []string) (sharePortArgs, error) {
	usage := fail(exitUsage, "usage: node-helper share-port --port N --exe NAME")
	var port, exe string
	seen := map[string]bool{}
	for i := 0; i < len(args); i++ {
		name, value, inline := strings.Cut(args[i], "=")
		if name != "--port" && name != "--exe" || seen[name] {
			return sharePortArgs{}, usage
		}
		seen[name] = true
		if !inline {
			if i+1 >= len(args) {
				return sharePortArgs{}, usage
			}
			i++
			value = args[i]
		}
		if name == "--port" {
			port = value
		} else {
			exe = value
		}
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 1 || p > 65535 {
		return sharePortArgs{}, fail(exitUsage, "--port must be 1-65535, not %q", port)
	}
	if exe == "" || strings.Contains(exe, "/") || len(exe) > 15 {
		return sharePortArgs{}, fail(exitUsage, "--exe must be a process name as in /proc/PID/comm (at most 15 characters, no slash), not %q", exe)
	}
	return sharePortArgs{port: p, exe: exe}, nil
}

// Shared is one listening socket share-port acted on.
type Shared struct {
	PID    int
	FD     int
	Inode  string
	Before bool
}

// listeningInodes: the inodes of the TCP sockets listening on port, from a /proc/net/tcp-format table.
func listeningInodes(table io.Reader, port int) map[string]bool {
	out := map[string]bool{}
	sc := bufio.NewScanner(table)
	first := true
	for sc.Scan() {
		if first { // the header
			first = false
			continue
		}
		f := strings.Fields(sc.Text())
		// sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
		if len(f) < 10 || f[3] != "0A" { // 0A: TCP_LISTEN
			continue
		}
		i := strings.LastIndexByte(f[1], ':')
		if i < 0 {
			continue
		}
		p, err := strconv.ParseUint(f[1][i+1:], 16, 16)
		if err == nil && int(p) == port && f[9] != "0" {
			out[f[9]] = true
		}
	}
	return out
}

// socketInode: "socket:[123]" -> "123".
func socketInode(link string) (string, bool) {
	if !strings.HasPrefix(link, "socket:[") || !strings.HasSuffix(link, "]") {
		return "", false
	}
	return link[len("socket:[") : len(link)-1], true
}

// candidates: the pids named exe that live in the network namespace netns (of this helper: the node's).
func candidates(root, exe, netns string) ([]int, error) {
	entries, err := os.ReadDir(root)
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		comm, err := os.ReadFile(filepath.Join(root, e.Name(), "comm"))
		if err != nil || strings.TrimSpace(string(comm)) != exe {
			continue
		}
		ns, err := os.Readlink(filepath.Join(root, e.Name(), "ns", "net"))
		if err != nil || ns != netns {
			continue // another network namespace (another node of a bed on one host, a pod): not ours to touch
		}
		pids = append(pids, pid)
	}
	sort.Ints(pids)
	return pids, nil
}

type sharedList []Shared

func (l sharedList) JSON() string {
	parts := make([]string, len(l))
	for i, s := range l {
		parts[i] = fmt.Sprintf(`{"pid":%d,"fd":%d,"inode":%s,"alreadyShared":%t}`, s.PID, s.FD, strconv.Quote(s.Inode), s.Before)
	}
	return "[" + strings.Join(parts, ",") + "]"
}

// listener is one listening socket of a process: its pid, the descriptor that holds it, and its inode.
type listener struct {
	pid   int
	fd    int
	inode string
}

// listenersOf: the sockets listening on port held by the processes named exe in this helper's network namespace
// (the node's), in pid order. Exit 3 when there is no such process.
func listenersOf(root, exe string, port int) ([]listener, error) {
	netns, err := os.Readlink(filepath.Join(root, "self", "ns", "net"))
	if err != nil {
		return nil, fail(exitFailed, "cannot read this process's network namespace: %v", err)
	}
	pids, err := candidates(root, exe, netns)
	if err != nil {
		return nil, fail(exitFailed, "cannot list processes: %v", err)
	}
	if len(pids) == 0 {
		return nil, fail(exitNothing, "no process named %s in this network namespace (is the agent pod hostPID and hostNetwork?)", exe)
	}
	var out []listener
	for _, pid := range pids {
		inodes := map[string]bool{}
		for _, t := range []string{"tcp", "tcp6"} {
			f, err := os.Open(filepath.Join(root, strconv.Itoa(pid), "net", t))
			if err != nil {
				continue
			}
			for k := range listeningInodes(f, port) {
				inodes[k] = true
			}
			f.Close()
		}
		if len(inodes) == 0 {
			continue
		}
		fds, err := os.ReadDir(filepath.Join(root, strconv.Itoa(pid), "fd"))
		if err != nil {
			return nil, classify(fmt.Sprintf("reading the descriptors of %s (pid %d)", exe, pid), err)
		}
		for _, d := range fds {
			link, err := os.Readlink(filepath.Join(root, strconv.Itoa(pid), "fd", d.Name()))
			ino, ok := socketInode(link)
			if err != nil || !ok || !inodes[ino] {
				continue
			}
			fd, _ := strconv.Atoi(d.Name())
			out = append(out, listener{pid: pid, fd: fd, inode: ino})
		}
	}
	return out, nil
}

// withCopy runs f on a copy of the listener's socket, taken with pidfd_getfd, and closes the copy.
func withCopy(l listener, f func(fd int) error) error {
	pidfd, err := pidfdOpen(l.pid)
	if err != nil {
		return classify("pidfd_open", err)
	}
	defer syscall.Close(pidfd)
	r, _, e := syscall.Syscall(sysPidfdGetfd, uintptr(pidfd), uintptr(l.fd), 0)
	if e != 0 {
		return classify("pidfd_getfd", e)
	}
	defer syscall.Close(int(r))
	return f(int(r))
}

func sharePort(a sharePortArgs, root string) (sharedList, error) {
	ls, err := listenersOf(root, a.exe, a.port)
	if err != nil {
		return nil, err
	}
	var done []Shared
	for _, l := range ls {
		var before bool
		if err := withCopy(l, func(fd int) (err error) { before, err = shareOne(fd); return err }); err != nil {
			return done, err
		}
		done = append(done, Shared{PID: l.pid, FD: l.fd, Inode: l.inode, Before: before})
	}
	if len(done) == 0 {
		return nil, fail(exitNothing, "no %s process here listens on port %d", a.exe, a.port)
	}
	return done, nil
}

func pidfdOpen(pid int) (int, error) {
	r, _, e := syscall.Syscall(sysPidfdOpen, uintptr(pid), 0, 0)
	if e != 0 {
		return -1, e
	}
	return int(r), nil
}

// shareOne sets SO_REUSEPORT on the socket behind fd (a copy of the target's descriptor: a socket option belongs to
// the socket, not to the descriptor). It reports whether the option was set already.
func shareOne(fd int) (bool, error) {
	before, err := syscall.GetsockoptInt(fd, syscall.SOL_SOCKET, soReuseport)
	if err != nil {
		return false, classify("getsockopt SO_REUSEPORT", err)
	}
	if before == 1 {
		return true, nil
	}
	one := int32(1)
	if _, _, e := syscall.Syscall6(syscall.SYS_SETSOCKOPT, uintptr(fd), syscall.SOL_SOCKET, soReuseport, uintptr(unsafe.Pointer(&one)), 4, 0); e != 0 {
		return false, classify("setsockopt SO_REUSEPORT", e)
	}
	if now, err := syscall.GetsockoptInt(fd, syscall.SOL_SOCKET, soReuseport); err != nil || now != 1 {
		return false, fail(exitFailed, "SO_REUSEPORT did not stay set (%d, %v)", now, errors.Join(err))
	}
	return false, nil
}

// SO_REUSEPORT is 15 on amd64 and arm64 (asm-generic); the syscall package does not export it for every GOARCH.
const soReuseport = 0xf
