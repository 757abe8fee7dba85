package main

import (
	"strings"
	"testing"
)

// Lines as this kernel (6.18) prints them: /proc/net/tcp and /proc/net/tcp6 of a host with a listener on 2024
// (0x07E8), an apiserver-like one on 6443 (0x192B) on every address, and a connection to 6443 (state 01).
const tcp = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:07E8 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 247 1 000000009e9cbb35 100 0 0 10 0
   1: 0200D50A:192B 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4711 1 0000000000000000 100 0 0 10 0
   2: 0200D50A:192B 0100D50A:C350 01 00000000:00000000 02:000A1B2C 00000000     0        0 4712 2 0000000000000000 20 4 30 10 -1
`
const tcp6 = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000000000000:192B 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4713 1 0000000000000000 100 0 0 10 0
`

func TestListeningInodes(t *testing.T) {
	for _, c := range []struct {
		table string
		port  int
		want  string
	}{
		{tcp, 6443, "4711"},  // the listener only, not the connection on the same port
		{tcp, 2024, "247"},   //
		{tcp, 10259, ""},     // nothing there
		{tcp6, 6443, "4713"}, // the tcp6 table has the same columns
	} {
		got := listeningInodes(strings.NewReader(c.table), c.port)
		keys := []string{}
		for k := range got {
			keys = append(keys, k)
		}
		if strings.Join(keys, ",") != c.want {
			t.Errorf("port %d: %v, want %q", c.port, keys, c.want)
		}
	}
}

func TestSocketInode(t *testing.T) {
	if ino, ok := socketInode("socket:[4711]"); !ok || ino != "4711" {
		t.Errorf("socket:[4711] -> %q %v", ino, ok)
	}
	for _, l := range []string{"pipe:[4711]", "/dev/null", "anon_inode:[pidfd]", "socket:[4711"} {
		if _, ok := socketInode(l); ok {
			t.Errorf("%q taken for a socket", l)
		}
	}
}

func TestParseSharePort(t *testing.T) {
	if a, err := parseSharePort([]string{"--port", "6443", "--exe", "kube-apiserver"}); err != nil || a.port != 6443 || a.exe != "kube-apiserver" {
		t.Errorf("good args: %+v %v", a, err)
	}
	for _, bad := range [][]string{
		{"--port", "0", "--exe", "x"},
		{"--port", "70000", "--exe", "x"},
		{"--port", "6443"},
		{"--port", "6443", "--exe", "/usr/local/bin/kube-apiserver"},
		{"--port", "6443", "--exe", "kube-controller-manager"}, // comm is cut at 15 characters: name it so
		{"--port", "6443", "--exe", "x", "extra"},
		{"--bogus"},
	} {
		if _, err := parseSharePort(bad); err == nil {
			t.Errorf("%v accepted", bad)
		} else if f, ok := err.(*failure); !ok || f.code != exitUsage {
			t.Errorf("%v: %v, want a usage error", bad, err)
		}
	}
}
