package main

import "testing"

// serve's --cache-size takes a whole number of tokens, at least one; a bad
// one stops serve before it opens anything.
func TestServeRefusesBadCacheSize(t *testing.T) {
	for _, v := range []string{"0", "-5", "lots", "1e6"} {
		t.Run(v, func(t *testing.T) {
			r := runTokend(t, nil, "", "serve", "--db", tempDBPath(t), "--addr", "127.0.0.1:0", "--cache-size", v)
			wantOneLineError(t, r.err, `invalid value "`+v+`" for flag -cache-size: want a whole number of tokens, at least 1`)
		})
	}
}
