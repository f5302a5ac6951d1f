package web

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"tokend/store"
)

// apiAuditEvent is an audit event as the API shows it.
type apiAuditEvent struct {
	ID        int64         `json:"id"`
	Time      time.Time     `json:"time"`
	Action    string        `json:"action"`
	Actor     apiAuditParty `json:"actor"`
	Target    apiAuditParty `json:"target"`
	ClientIP  string        `json:"client_ip"`
	UserAgent string        `json:"user_agent"`
	// Details are the action's particulars, an object; never a secret.
	Details json.RawMessage `json:"details"`
}

// apiAuditParty is who acted, or what was acted on: its kind, its name as
// it was then, and the member and token it is, null where none.
type apiAuditParty struct {
	Kind     string `json:"kind"`
	Label    string `json:"label"`
	MemberID *int64 `json:"member_id"`
	TokenID  *int64 `json:"token_id"`
}

func toAPIAuditEvent(e store.AuditEvent) apiAuditEvent {
	details := e.Details
	if !json.Valid(details) {
		details = json.RawMessage("{}")
	}
	return apiAuditEvent{
		ID: e.ID, Time: e.At.UTC(), Action: e.Action,
		Actor:    apiAuditParty{Kind: e.ActorKind, Label: e.Actor, MemberID: nullableID(e.ActorMemberID), TokenID: nullableID(e.ActorTokenID)},
		Target:   apiAuditParty{Kind: e.TargetKind, Label: e.Target, MemberID: nullableID(e.TargetMemberID), TokenID: nullableID(e.TargetTokenID)},
		ClientIP: e.ClientIP, UserAgent: e.UserAgent, Details: details,
	}
}

// apiAuditEvents is GET /api/v1/audit-events: the organization's audit
// log, newest first, for a token acting as admin. The cursor is the id of
// the last event of the page before, as next_cursor gave it; clients should
// treat it as opaque.
func (s *Server) apiAuditEvents(c echo.Context) error {
	q, err := apiQuery(c)
	if err != nil {
		return err
	}
	f, err := readAPIAuditQuery(q)
	if err != nil {
		return err
	}
	// One more than asked tells whether there is a next page; past the
	// store's largest page, a look for one more event does.
	ctx, p, limit := c.Request().Context(), principalOf(c), f.Limit
	f.Limit = min(limit+1, store.MaxAuditPage)
	es, err := s.db.AuditEvents(ctx, p, f)
	if err != nil {
		return err
	}
	more := len(es) > limit
	if len(es) == limit && limit == store.MaxAuditPage {
		probe := f
		probe.BeforeID, probe.Limit = es[limit-1].ID, 1
		rest, err := s.db.AuditEvents(ctx, p, probe)
		if err != nil {
			return err
		}
		more = len(rest) > 0
	}
	out := struct {
		Events     []apiAuditEvent `json:"events"`
		NextCursor *string         `json:"next_cursor"`
	}{Events: []apiAuditEvent{}}
	if more {
		es = es[:limit]
		next := strconv.FormatInt(es[limit-1].ID, 10)
		out.NextCursor = &next
	}
	for _, e := range es {
		out.Events = append(out.Events, toAPIAuditEvent(e))
	}
	noStore(c)
	return c.JSON(http.StatusOK, out)
}

// readAPIAuditQuery reads the filters of GET /api/v1/audit-events. Like
// every list of the API it refuses a parameter it does not know, or one
// given twice or empty, and names the parameter at fault; no message
// quotes what was sent.
func readAPIAuditQuery(q url.Values) (store.AuditFilter, error) {
	if err := queryOnce(q, "action", "actor_kind", "actor_member_id", "actor_token_id", "token_id", "member_id",
		"since", "until", "limit", "cursor"); err != nil {
		return store.AuditFilter{}, err
	}
	f := store.AuditFilter{Action: q.Get("action"), ActorKind: q.Get("actor_kind"), Limit: store.DefaultAuditPage}
	if f.Action != "" && store.ActionTitle(f.Action) == f.Action {
		return f, invalidRequest("action", "action must be one of the audit actions, such as token.created; the OpenAPI document lists them.")
	}
	if f.ActorKind != "" && actorKindTitle(f.ActorKind) == f.ActorKind {
		return f, invalidRequest("actor_kind", "actor_kind must be member, token, cli or anonymous.")
	}
	for _, p := range []struct {
		name string
		dst  *int64
	}{
		{"actor_member_id", &f.ActorMemberID}, {"actor_token_id", &f.ActorTokenID},
		{"token_id", &f.TokenID}, {"member_id", &f.MemberID},
	} {
		if v := q.Get(p.name); v != "" {
			id, ok := parseID(v)
			if !ok {
				return f, invalidRequest(p.name, p.name+" must be an id: a whole number from 1, without sign or leading zeros.")
			}
			*p.dst = id
		}
	}
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"since", &f.Since}, {"until", &f.Until}} {
		if v := q.Get(p.name); v != "" {
			t, err := parseExpiry(v)
			if err != nil {
				return f, invalidRequest(p.name, p.name+" must be an RFC 3339 date-time (2006-01-02T15:04:05Z) or a date (2006-01-02, its start in UTC).")
			}
			*p.dst = t
		}
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Until.After(f.Since) {
		return f, invalidRequest("until", "until must be after since.")
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > store.MaxAuditPage {
			return f, invalidRequest("limit", "limit must be a number from 1 to "+strconv.Itoa(store.MaxAuditPage)+".")
		}
		f.Limit = n
	}
	if v := q.Get("cursor"); v != "" {
		id, ok := parseID(v)
		if !ok {
			return f, invalidRequest("cursor", "cursor is not one this API gave.")
		}
		f.BeforeID = id
	}
	return f, nil
}
