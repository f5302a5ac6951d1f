package main

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// `tokend serve` logs the Envoy ext_authz path README documents, and a
// page that does not exist, without the key the path carries.
func TestServeLogHoldsNoKey(t *testing.T) {
	path := tempDBPath(t)
	_, _, key := seedDriver(t, path)
	s := startServe(t, map[string]string{"TOKEND_SESSION_KEY": strings.Repeat("k", 32)}, "--db", path)
	_, base, _ := s.waitServing(t)

	c := browser(t)
	for _, tt := range []struct {
		path   string
		status int
	}{
		{"/auth/verify/videos/" + key + "/master.m3u8", http.StatusOK},
		{"/nope/" + key + "?token=" + key, http.StatusNotFound},
	} {
		req, err := http.NewRequest(http.MethodGet, base+tt.path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+key)
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != tt.status {
			t.Errorf("GET %s: status %d, want %d", tt.path, res.StatusCode, tt.status)
		}
	}
	if err := s.stop(); err != nil { // every request, and its log line, is done
		t.Fatal(err)
	}

	logged := s.stderr.String()
	if strings.Contains(logged, key[4:34]) || regexp.MustCompile(`tk[ps]_[0-9A-Za-z]{36}`).MatchString(logged) {
		t.Errorf("the log holds the key %s:\n%s", key, logged)
	}
	for _, want := range []string{
		"path=/auth/verify/videos/tkp_REDACTED/master.m3u8 status=200",
		"path=/nope/tkp_REDACTED status=404",
	} {
		if !strings.Contains(logged, want) {
			t.Errorf("the log has no line with %s:\n%s", want, logged)
		}
	}
}
