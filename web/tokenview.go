package web

import (
	"fmt"
	"strings"
	"time"
	"tokend/store"
	"tokend/views"
)

// How a token is shown: a store.Token mapped to the row the lists and
// pages render, with dates and who made it as people read them.

func joinTitles(titles []string) string {
	switch len(titles) {
	case 0:
		return "none"
	case 1:
		return titles[0]
	}
	return strings.Join(titles[:len(titles)-1], ", ") + " and " + titles[len(titles)-1]
}

const (
	dateLayout     = "Jan 2, 2006"
	dateTimeLayout = "Jan 2, 2006 15:04 MST"
)

// createdBy says who made a token: the member, and the token they made it
// through on the API; or the system token that made it.
func createdBy(t store.Token) string {
	switch {
	case t.CreatedByToken == 0:
		return t.CreatedByName
	case t.CreatedBy == 0:
		return "system token “" + t.CreatedByTokenName + "”"
	}
	return t.CreatedByName + " (via token “" + t.CreatedByTokenName + "”)"
}

func tokenRow(t store.Token, viewer store.Member, now time.Time) views.TokenRow {
	r := views.TokenRow{
		ID:          t.ID,
		Name:        t.Name,
		Hint:        t.Hint(),
		Created:     t.CreatedAt.Format(dateLayout),
		CreatedISO:  t.CreatedAt.Format(time.RFC3339),
		CreatedFull: t.CreatedAt.Format(dateTimeLayout),
		CreatedBy:   createdBy(t),
		Roles:       store.RoleTitles(t.Roles),
		Expires:     "Never",
		Expired:     t.State(now) == store.StateExpired,
		LastUsed:    "Never",
		RevokeURL:   fmt.Sprintf("/tokens/%d/revoke", t.ID),
		PageURL:     tokenPageURL(t.ID),
		Leaked:      !t.LeakedAt.IsZero(),
	}
	if viewer.IsOwner() {
		r.EventsURL = fmt.Sprintf("/audit?token_id=%d", t.ID)
	}
	if t.Kind == store.KindPersonal {
		r.Member = t.MemberName + " (" + t.MemberEmail + ")"
		if t.MemberID == viewer.ID {
			r.Member = t.MemberName + " (you)"
		}
	}
	if !t.ExpiresAt.IsZero() {
		r.Expires, r.ExpiresISO = t.ExpiresAt.Format(dateLayout), t.ExpiresAt.Format(time.RFC3339)
	}
	if !t.CreatorLeft.IsZero() {
		r.CreatorLeft, r.CreatorLeftISO = t.CreatorLeft.Format(dateLayout), t.CreatorLeft.Format(time.RFC3339)
	}
	switch {
	case t.RevokeReason == store.ReasonMemberLeft:
		r.Revoked = "Revoked: member left " + t.RevokedAt.Format(dateLayout)
	case !t.RevokedAt.IsZero():
		r.Revoked = "Revoked " + t.RevokedAt.Format(dateLayout)
	}
	if !t.LastUsedAt.IsZero() {
		r.LastUsed = t.LastUsedAt.Format(dateTimeLayout)
		if t.LastUsedIP != "" {
			r.LastUsed += " from " + t.LastUsedIP
		}
	}
	return r
}
