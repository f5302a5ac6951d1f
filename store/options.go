package store

import "fmt"

// Option configures a DB when it is opened: what the background work and
// the cache depend on is fixed before either starts.
type Option func(*options)

type options struct {
	cacheSize int
}

// DefaultCacheSize is how many verified tokens a DB keeps in memory unless
// WithCacheSize says otherwise. Each costs about 500 bytes (see README,
// Performance), so the default holds a little over a million tokens in
// about half a gigabyte.
const DefaultCacheSize = 1 << 20

// WithCacheSize bounds the token cache to n tokens, at least one. Past it,
// a token checked for the first time takes the place of one not checked
// for longest (CLOCK, see tokencache.go), so the tokens in use stay.
func WithCacheSize(n int) Option {
	return func(o *options) { o.cacheSize = n }
}

func newOptions(opts []Option) (options, error) {
	o := options{cacheSize: DefaultCacheSize}
	for _, opt := range opts {
		opt(&o)
	}
	if o.cacheSize < 1 {
		return o, fmt.Errorf("cache size must be at least 1 token, not %d", o.cacheSize)
	}
	return o, nil
}
