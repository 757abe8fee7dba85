package main

import "testing"

func TestParseSteer(t *testing.T) {
	a, err := parseSteer([]string{"--port", "6443", "--exe", "kube-apiserver", "--to", "old"})
	if err != nil || a.port != 6443 || a.exe != "kube-apiserver" || a.to != "old" || a.probe != [4]byte{127, 100, 0, 1} {
		t.Errorf("good args, default probe: %+v %v", a, err)
	}
	if a, err := parseSteer([]string{"--to=none", "--probe=127.9.8.7", "--port=10259", "--exe=kube-scheduler"}); err != nil || a.to != "none" || a.probe != [4]byte{127, 9, 8, 7} || a.port != 10259 {
		t.Errorf("inline values: %+v %v", a, err)
	}
	for _, bad := range [][]string{
		{"--port", "6443", "--exe", "x"},                               // --to is needed
		{"--port", "6443", "--exe", "x", "--to", "both"},               //
		{"--port", "6443", "--exe", "x", "--to", "old", "--to", "new"}, // once
		{"--port", "6443", "--exe", "x", "--to", "old", "--probe", "10.0.0.1"},
		{"--port", "6443", "--exe", "x", "--to", "old", "--probe", "127.0.0.1"}, // the loopback every process uses
		{"--port", "6443", "--exe", "x", "--to", "old", "--probe", "::1"},
		{"--port", "0", "--exe", "x", "--to", "old"},
		{"--port", "6443", "--exe", "x", "--to", "old", "extra"},
	} {
		if _, err := parseSteer(bad); err == nil {
			t.Errorf("%v accepted", bad)
		} else if f, ok := err.(*failure); !ok || f.code != exitUsage {
			t.Errorf("%v: %v, want a usage error", bad, err)
		}
	}
}

// The program as the kernel will check it (bpf_check_classic): every jump lands inside it, it ends in a return,
// and its three returns are 1 (the probe's), the hash's out-of-range index, and the asked-for one.
func TestProgramShape(t *testing.T) {
	for _, to := range []uint32{0, 1} {
		p := program(to, [4]byte{127, 100, 0, 1})
		for i, ins := range p {
			if ins.code&0x07 == bpfJMP && (i+1+int(ins.jt) >= len(p) || i+1+int(ins.jf) >= len(p)) {
				t.Errorf("to %d: instruction %d jumps out of the program", to, i)
			}
		}
		n := len(p)
		if p[n-3] != (sockFilter{code: bpfRET, k: 1}) || p[n-2] != (sockFilter{code: bpfRET, k: indexHash}) || p[n-1] != (sockFilter{code: bpfRET, k: to}) {
			t.Errorf("to %d: returns %+v", to, p[n-3:])
		}
		if p[3].k != 0x7f640001 {
			t.Errorf("the probe address compared as %#x", p[3].k)
		}
	}
}

func TestParseIPv4(t *testing.T) {
	if ip, ok := parseIPv4("127.100.0.1"); !ok || ip != [4]byte{127, 100, 0, 1} {
		t.Errorf("127.100.0.1 -> %v %v", ip, ok)
	}
	for _, bad := range []string{"", "127.100.0", "127.100.0.1.2", "127.100.0.256", "127.100.0.-1", "127.100.0.01", "127.100.0.x", "::1"} {
		if _, ok := parseIPv4(bad); ok {
			t.Errorf("%q accepted", bad)
		}
	}
}
