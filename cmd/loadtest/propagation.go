package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"tokend/store"
)

// propagationWait is how long B may go on accepting a revoked key before
// the run fails.
const propagationWait = 30 * time.Second

// measurePropagation measures how soon a revoke acknowledged by one instance
// is refused by another: a second `tokend serve` (B) on the same schema as
// A; n personal tokens of one member made through the store, each verified
// once through B so that B has it cached; then for each, DELETE
// /api/v1/tokens/{id} through A with the owner's key and, the moment A's
// answer is read, GET /api/v1/token with the revoked key through B until B
// answers 401. The delay runs from A's answer to B's first 401.
//
// B limits failed checks per client address (ten, then one a second), and
// every revoke makes one: each token's checks come from an address of its
// own in 127.0.0.0/8, all of which is loopback on Linux, so that B runs as
// shipped and no check of this measurement is answered 429.
func measurePropagation(ctx context.Context, out io.Writer, cfg config, dsn, dir, baseA, adminKey string) error {
	n := cfg.propagation
	fmt.Fprintf(out, "\npropagation: making %d personal tokens, starting a second instance (B) on the same schema…\n", n)
	ids, keys, err := propagationTokens(ctx, dsn, n)
	if err != nil {
		return err
	}
	b, err := startServer(ctx, cfg.bin, dsn, cfg.accessLog, filepath.Join(dir, "tokend-b.log"))
	if err != nil {
		return fmt.Errorf("instance B: %w", err)
	}
	defer b.stop()

	clients := make([]*http.Client, n)
	for i := range clients {
		clients[i] = clientFrom(sourceAddr(i))
	}
	defer func() {
		for _, c := range clients {
			c.CloseIdleConnections()
		}
	}()
	// B verifies every key once, from the database, and caches it.
	for i := range n {
		status, err := get(ctx, clients[i], b.base+"/api/v1/token", keys[i])
		if err != nil {
			if i == 0 {
				return fmt.Errorf("GET /api/v1/token through B from %s: %w (the measurement sends each token's checks from an address of its own in 127.0.0.0/8, which needs Linux's loopback)", sourceAddr(i), err)
			}
			return err
		}
		if status != http.StatusOK {
			return fmt.Errorf("B answered %d to token %d before any revoke", status, ids[i])
		}
		clients[i].CloseIdleConnections()
	}

	clientA := &http.Client{Timeout: 30 * time.Second}
	defer clientA.CloseIdleConnections()
	delays := make([]time.Duration, 0, n)
	firstRefused, checks := 0, 0
	for i := range n {
		if err := ctx.Err(); err != nil {
			return err
		}
		c := clients[i]
		// A connection to B from this token's address, open before the
		// revoke, so that the delay is not a TCP handshake.
		if status, err := get(ctx, c, b.base+"/healthz", ""); err != nil || status != http.StatusOK {
			return fmt.Errorf("GET /healthz through B: %d, %v", status, err)
		}
		if err := revokeThrough(ctx, clientA, baseA, adminKey, ids[i]); err != nil {
			return err
		}
		acked := time.Now()
		for attempt := 1; ; attempt++ {
			status, err := get(ctx, c, b.base+"/api/v1/token", keys[i])
			checks++
			if err != nil {
				return err
			}
			if status == http.StatusUnauthorized {
				delays = append(delays, time.Since(acked))
				if attempt == 1 {
					firstRefused++
				}
				break
			}
			if status != http.StatusOK {
				return fmt.Errorf("B answered %d to revoked token %d (want 200 until it hears of the revoke, then 401)", status, ids[i])
			}
			if time.Since(acked) > propagationWait {
				return fmt.Errorf("B still accepts token %d %s after A acknowledged its revoke", ids[i], propagationWait)
			}
		}
		c.CloseIdleConnections()
	}
	slices.Sort(delays)
	fmt.Fprintf(out, "propagation over %d revokes: p50 %s, p99 %s, max %s; %d/%d refused on B's first request (%d checks on B in all)\n",
		n, ms(percentile(delays, 50)), ms(percentile(delays, 99)), ms(delays[len(delays)-1]), firstRefused, n, checks)
	fmt.Fprintln(out, "(delay: from A's answer to the DELETE, read in full, to B's first 401; each check of B is one loopback round trip)")
	return nil
}

// propagationTokens makes n personal tokens of one member (a viewer of the
// load test's organization) through the store and returns their ids and
// keys.
func propagationTokens(ctx context.Context, dsn string, n int) ([]int64, []string, error) {
	db, err := store.Open(ctx, dsn)
	if err != nil {
		return nil, nil, err
	}
	defer db.Close()
	db.PasswordCost = 4
	m, err := db.CreateMember(ctx, store.NewMember{
		OrgName: orgName, Email: "propagation@load.test", Name: "Propagation", Password: ownerPassword, Roles: []store.Role{store.RoleViewer},
	})
	if err != nil {
		return nil, nil, err
	}
	ids, keys := make([]int64, n), make([]string, n)
	for i := range n {
		t, key, err := db.CreateToken(ctx, m, store.NewToken{Kind: store.KindPersonal, Name: "propagation " + strconv.Itoa(i)})
		if err != nil {
			return nil, nil, err
		}
		ids[i], keys[i] = t.ID, string(key)
	}
	return ids, keys, nil
}

// revokeThrough revokes token id with DELETE /api/v1/tokens/{id} through
// the instance at base and reads the answer in full.
func revokeThrough(ctx context.Context, c *http.Client, base, key string, id int64) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, base+"/api/v1/tokens/"+strconv.FormatInt(id, 10), nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+key)
	res, err := c.Do(req)
	if err != nil {
		return err
	}
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		return err
	}
	var answer struct {
		Revoked bool `json:"revoked"`
	}
	if res.StatusCode != http.StatusOK || json.Unmarshal(body, &answer) != nil || !answer.Revoked {
		return fmt.Errorf("DELETE /api/v1/tokens/%d through A answered %d: %s", id, res.StatusCode, body)
	}
	return nil
}

// get sends GET url, with key as its bearer token if any, reads the answer
// in full and returns its status.
func get(ctx context.Context, c *http.Client, url, key string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	res, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	_, err = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode, err
}

// sourceAddr is the i-th loopback address other than 127.0.0.1:
// 127.20.0.1, 127.20.0.2, …, never .0 or .255 in any place.
func sourceAddr(i int) net.IP {
	return net.IPv4(127, byte(20+i/(254*254)), byte(1+i/254%254), byte(1+i%254))
}

// clientFrom is an HTTP client whose connections come from the address ip.
func clientFrom(ip net.IP) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: ip}, Timeout: 5 * time.Second}
	return &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{DialContext: d.DialContext, MaxIdleConnsPerHost: 1, DisableCompression: true},
	}
}

// percentile is the p-th percentile of sorted d, by nearest rank.
func percentile(d []time.Duration, p float64) time.Duration {
	i := int(math.Ceil(p/100*float64(len(d)))) - 1
	return d[max(0, min(i, len(d)-1))]
}

func ms(d time.Duration) string {
	return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 2, 64) + " ms"
}
