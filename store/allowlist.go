package store

import (
	"net/netip"
	"slices"
	"strings"
)

// MaxAllowedRanges is the most addresses and ranges a token's allow-list
// may hold.
const MaxAllowedRanges = 50

// AllowList is a token's address allow-list: the client addresses it may
// be used from, as CIDR prefixes (a lone address is its /32 or /128).
// Empty allows every address.
type AllowList []netip.Prefix

// ParseAllowList reads an allow-list as typed or sent: addresses and CIDR
// ranges, IPv4 or IPv6, separated by commas, spaces or new lines. Each
// range is normalized to its network (10.0.0.1/8 is 10.0.0.0/8), an
// IPv4-mapped IPv6 address to IPv4, and repeats are dropped. The error is
// EINVALID on field "allowed_ips" naming the first entry at fault.
func ParseAllowList(entries ...string) (AllowList, error) {
	var list AllowList
	for _, e := range entries {
		for _, f := range strings.FieldsFunc(e, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\r' || r == '\t' }) {
			p, err := parseRange(f)
			if err != nil {
				return nil, err
			}
			if !slices.Contains(list, p) {
				list = append(list, p)
			}
		}
	}
	if len(list) > MaxAllowedRanges {
		return nil, fieldError("allowed_ips", "An allow-list holds at most %d addresses and ranges; this one has %d.", MaxAllowedRanges, len(list))
	}
	slices.SortFunc(list, func(a, b netip.Prefix) int {
		if c := a.Addr().Compare(b.Addr()); c != 0 {
			return c
		}
		return a.Bits() - b.Bits()
	})
	return list, nil
}

func parseRange(s string) (netip.Prefix, error) {
	bad := fieldError("allowed_ips", "%q is not an IP address or a CIDR range such as 203.0.113.0/24 or 2001:db8::/32.", s)
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil || p.Addr().Zone() != "" {
			return netip.Prefix{}, bad
		}
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Prefix{}, bad
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// Allows reports whether a client at addr may use the token: always with
// an empty list; never from an address that does not parse.
func (l AllowList) Allows(addr string) bool {
	if len(l) == 0 {
		return true
	}
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return false
	}
	a = a.Unmap().WithZone("")
	for _, p := range l {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Strings are the list's entries as shown and stored: an address alone
// for a single-address range.
func (l AllowList) Strings() []string {
	s := make([]string, len(l))
	for i, p := range l {
		if p.IsSingleIP() {
			s[i] = p.Addr().String()
		} else {
			s[i] = p.String()
		}
	}
	return s
}

// String is the list as stored: its entries separated by spaces.
func (l AllowList) String() string { return strings.Join(l.Strings(), " ") }

// readAllowList reads a stored list. A stored entry that does not parse
// (none should) becomes a range that holds no address: the list fails
// closed, never open.
func readAllowList(s string) AllowList {
	var l AllowList
	for _, f := range strings.Fields(s) {
		p, _ := parseRange(f) // the zero Prefix on error: contains nothing
		l = append(l, p)
	}
	return l
}

// ErrAddressNotAllowed refuses a working token presented from an address
// outside its allow-list.
var ErrAddressNotAllowed = &Error{Code: EFORBIDDEN, Message: "The access token may not be used from this address."}
