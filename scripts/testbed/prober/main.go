// The in-cluster API prober of the test bed: a pod that calls the API the way in-cluster clients do, by the name
// kubernetes.default.svc (CoreDNS) and its ClusterIP (kube-proxy), with its service account's token, at 25 requests
// a second, each on a new TCP+TLS connection (no keep-alive), alternating /readyz and a one-item list of the
// ConfigMaps of its namespace (an authorised request, so an apiserver answering before its RBAC cache is ready shows
// as a 403, as for the host prober in test/e2e/prober.ts).
//
// It prints one JSON line a second on stdout (so into the pod's log file on the node, readable without the API):
// {"t":<unix ms at the end of the second>,"sent":n,"failed":n,"firstOk":ms|0,"lastOk":ms|0,"gapInside":ms,"kinds":{...},"errors":[...]}
// where firstOk/lastOk are the first and last successful answers of that second and gapInside the longest time
// between two successes within it, kinds the failures counted by kind (test/e2e/failure-kind.ts has the same
// names); test/e2e/incluster-prober.ts folds the lines of a time window into the host
// prober's figures (sent, failed, longest gap without a success).
package main

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

const saDir = "/var/run/secrets/kubernetes.io/serviceaccount"

type second struct {
	T         int64          `json:"t"`
	Sent      int            `json:"sent"`
	Failed    int            `json:"failed"`
	FirstOk   int64          `json:"firstOk"`
	LastOk    int64          `json:"lastOk"`
	GapInside int64          `json:"gapInside"`
	Kinds     map[string]int `json:"kinds,omitempty"`
	Errors    []string       `json:"errors,omitempty"`
}

type recorder struct {
	mu  sync.Mutex
	cur second
}

func (r *recorder) ok(at int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cur.FirstOk == 0 {
		r.cur.FirstOk = at
	} else if at-r.cur.LastOk > r.cur.GapInside {
		r.cur.GapInside = at - r.cur.LastOk
	}
	if at > r.cur.LastOk {
		r.cur.LastOk = at
	}
}

func (r *recorder) fail(kind, why string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cur.Failed++
	if r.cur.Kinds == nil {
		r.cur.Kinds = map[string]int{}
	}
	r.cur.Kinds[kind]++
	if len(r.cur.Errors) < 3 {
		r.cur.Errors = append(r.cur.Errors, why)
	}
}

func (r *recorder) sent() {
	r.mu.Lock()
	r.cur.Sent++
	r.mu.Unlock()
}

func (r *recorder) flush(now int64) second {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.cur
	out.T = now
	r.cur = second{}
	return out
}

func main() {
	host := os.Getenv("PROBE_HOST")
	if host == "" {
		host = "kubernetes.default.svc"
	}
	rate := 25
	caPEM, err := os.ReadFile(saDir + "/ca.crt")
	if err != nil {
		fmt.Fprintf(os.Stderr, "bed-prober: no service account CA (%v); the pod needs automountServiceAccountToken\n", err)
		os.Exit(2)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	ns, _ := os.ReadFile(saDir + "/namespace")
	paths := []string{"/readyz", "/api/v1/namespaces/" + strings.TrimSpace(string(ns)) + "/configmaps?limit=1"}
	client := &http.Client{
		Timeout: 2 * time.Second,
		Transport: &http.Transport{
			DisableKeepAlives: true, // every request on a new TCP+TLS connection
			TLSClientConfig:   &tls.Config{RootCAs: pool, ServerName: host},
		},
	}
	rec := &recorder{}
	enc := json.NewEncoder(os.Stdout)
	go func() {
		for now := range time.Tick(time.Second) {
			_ = enc.Encode(rec.flush(now.UnixMilli()))
		}
	}()
	n := 0
	for range time.Tick(time.Second / time.Duration(rate)) {
		path := paths[n%len(paths)]
		n++
		rec.sent()
		go func() {
			// The token is read for every request: the kubelet rotates it.
			token, err := os.ReadFile(saDir + "/token")
			if err != nil {
				rec.fail("other", "token: "+err.Error())
				return
			}
			req, _ := http.NewRequest(http.MethodGet, "https://"+host+path, nil)
			req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(token)))
			t0 := time.Now()
			res, err := client.Do(req)
			if err != nil {
				rec.fail(kindOf(err), fmt.Sprintf("%s %s: %v", t0.UTC().Format("15:04:05.000"), path, err))
				return
			}
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode != http.StatusOK {
				rec.fail(strconv.Itoa(res.StatusCode), fmt.Sprintf("%s %s: HTTP %d", t0.UTC().Format("15:04:05.000"), path, res.StatusCode))
				return
			}
			rec.ok(time.Now().UnixMilli())
		}()
	}
}

// kindOf names a failure without an HTTP answer the way test/e2e/failure-kind.ts does for the host prober.
func kindOf(err error) string {
	m := err.Error()
	switch {
	case strings.Contains(m, "connection refused"):
		return "refused"
	case strings.Contains(m, "connection reset"), strings.Contains(m, "EOF"):
		return "reset"
	case strings.Contains(m, "network is unreachable"), strings.Contains(m, "no route to host"):
		return "unreachable"
	case strings.Contains(m, "Timeout"), strings.Contains(m, "deadline exceeded"), strings.Contains(m, "i/o timeout"):
		return "timeout"
	case strings.Contains(m, "no such host"), strings.Contains(m, "server misbehaving"):
		return "dns"
	default:
		return "other"
	}
}
