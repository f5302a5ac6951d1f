package main

import (
	"errors"
	"flag"
	"strconv"

	"tokend/store"
)

// cacheSizeFlag is serve's --cache-size: how many verified tokens one
// process keeps in memory.
func cacheSizeFlag(fs *flag.FlagSet) *int {
	v := &cacheSize{n: store.DefaultCacheSize}
	fs.Var(v, "cache-size", "how many verified `tokens` to keep in memory, about 500 bytes each; past it, tokens not checked for longest make room")
	return &v.n
}

// cacheSize is a count of tokens, at least one.
type cacheSize struct{ n int }

func (v *cacheSize) String() string {
	if v == nil {
		return ""
	}
	return strconv.Itoa(v.n)
}

func (v *cacheSize) Set(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return errors.New("want a whole number of tokens, at least 1")
	}
	v.n = n
	return nil
}
