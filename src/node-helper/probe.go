package main

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

const (
	sysPidfdOpen  = 434 // the same number on amd64 and arm64 (the unified syscall table since Linux 5.1)
	sysPidfdGetfd = 438
)

// Features is what `probe` reports.
type Features struct {
	Kernel string
	// PidfdGetfd: share-port can work here.
	PidfdGetfd bool
	// TCPMigrateReq: the sysctl exists (its value is not changed by probe).
	TCPMigrateReq bool
}

func (f Features) JSON() string {
	return fmt.Sprintf(`{"kernel":%s,"pidfdGetfd":%t,"tcpMigrateReq":%t}`, strconv.Quote(f.Kernel), f.PidfdGetfd, f.TCPMigrateReq)
}

func probe() Features {
	var u syscall.Utsname
	kernel := ""
	if syscall.Uname(&u) == nil {
		b := make([]byte, 0, len(u.Release))
		for _, c := range u.Release {
			if c == 0 {
				break
			}
			b = append(b, byte(c))
		}
		kernel = string(b)
	}
	// An invalid descriptor: EBADF when the call exists, ENOSYS when it does not.
	_, _, e := syscall.Syscall(sysPidfdGetfd, ^uintptr(0), 0, 0)
	_, err := os.Stat("/proc/sys/net/ipv4/tcp_migrate_req")
	return Features{Kernel: strings.TrimSpace(kernel), PidfdGetfd: !errors.Is(e, syscall.ENOSYS), TCPMigrateReq: err == nil}
}
