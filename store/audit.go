package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Audit actions: what an audit event records. The keys are stable; the
// API and the exports carry them as they are.
const (
	ActionTokenCreated          = "token.created"
	ActionTokenRevoked          = "token.revoked"
	ActionTokenPresentedRevoked = "token.presented_revoked"
	ActionTokenPresentedExpired = "token.presented_expired"
	ActionPolicyChanged         = "policy.changed"
	ActionMemberInvited         = "member.invited"
	ActionInvitationWithdrawn   = "invitation.withdrawn"
	ActionMemberJoined          = "member.joined"
	ActionMemberAdded           = "member.added"
	ActionMemberRolesChanged    = "member.roles_changed"
	ActionMemberRemoved         = "member.removed"
	ActionSignInSucceeded       = "sign_in.succeeded"
	ActionSignInFailed          = "sign_in.failed"
	ActionPasswordChanged       = "password.changed"
)

// AuditActions lists every action in the order the Audit Log's filter
// offers them, each with how people read it.
var AuditActions = []struct{ Key, Title string }{
	{ActionTokenCreated, "Token created"},
	{ActionTokenRevoked, "Token revoked"},
	{ActionTokenPresentedRevoked, "Revoked token presented"},
	{ActionTokenPresentedExpired, "Expired token presented"},
	{ActionPolicyChanged, "Policy changed"},
	{ActionMemberInvited, "Member invited"},
	{ActionInvitationWithdrawn, "Invitation withdrawn"},
	{ActionMemberJoined, "Member joined"},
	{ActionMemberAdded, "Member added (command line)"},
	{ActionMemberRolesChanged, "Member roles changed"},
	{ActionMemberRemoved, "Member removed"},
	{ActionSignInSucceeded, "Sign-in succeeded"},
	{ActionSignInFailed, "Sign-in failed"},
	{ActionPasswordChanged, "Password changed"},
}

// ActionTitle is how people read an action key; the key itself if unknown.
func ActionTitle(key string) string {
	for _, a := range AuditActions {
		if a.Key == key {
			return a.Title
		}
	}
	return key
}

// Kinds of actor and target an audit event names.
const (
	ActorMember    = "member"    // signed in on the page
	ActorToken     = "token"     // a token on the API, or one presented
	ActorCLI       = "cli"       // the tokend command line on the server
	ActorAnonymous = "anonymous" // someone not signed in, e.g. a failed sign-in

	TargetToken      = "token"
	TargetMember     = "member"
	TargetInvitation = "invitation"
	TargetOrg        = "org"
)

// AuditEvent is one entry of an organization's audit log.
type AuditEvent struct {
	ID     int64
	At     time.Time
	Action string

	// ActorKind is ActorMember, ActorToken, ActorCLI or ActorAnonymous;
	// Actor names them as they were named then: "Ana <ana@example.com>",
	// "tks_…a1B9 (deploy)" or "tkp_…a1B9 (ci) of Ana <ana@example.com>",
	// "command line".
	ActorKind     string
	ActorMemberID int64 // the member acting, or whose token acted
	ActorTokenID  int64
	Actor         string

	// TargetKind is TargetToken, TargetMember, TargetInvitation or
	// TargetOrg; Target names it as it was named then.
	TargetKind     string
	TargetTokenID  int64
	TargetMemberID int64
	Target         string

	// ClientIP and UserAgent are of the request that made the change; empty
	// on the command line.
	ClientIP  string
	UserAgent string

	// Details are the action's particulars (a token's kind, roles and
	// expiry; a revoke's reason; a policy's old and new value), as a JSON
	// object. Never a secret.
	Details json.RawMessage
}

// Client is where a request came from, as the web layer trusts it: the
// client address (after --trusted-proxies) and the User-Agent header, with
// anything that looks like a key already redacted.
type Client struct {
	Addr      string
	UserAgent string
}

type clientKey struct{}

// WithClient returns ctx carrying the client a request came from, for the
// audit events the store writes while serving it.
func WithClient(ctx context.Context, c Client) context.Context {
	return context.WithValue(ctx, clientKey{}, c)
}

func clientOf(ctx context.Context) Client {
	c, _ := ctx.Value(clientKey{}).(Client)
	return c
}

// maxUserAgentLen bounds the User-Agent kept with an event, in bytes.
const maxUserAgentLen = 256

// cleanUserAgent makes a header fit to store and show: valid UTF-8, no
// control characters, at most maxUserAgentLen bytes, and no key in it. The
// web layer redacts what it hands over with its own, finer rule; this one
// holds whatever the caller did: any run of 24 letters and digits or more,
// the length of no word but of a key's secret, is cut out.
func cleanUserAgent(s string) string {
	s = redactRuns(s)
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) { // controls, bidi overrides
			return -1
		}
		return r
	}, strings.ToValidUTF8(s, "\uFFFD"))
	if len(s) > maxUserAgentLen {
		cut := maxUserAgentLen
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut]
	}
	return s
}

// keyLike is a run of 24 or more ASCII letters and digits: the length of
// no word, but of a key's secret.
var keyLike = regexp.MustCompile(`[A-Za-z0-9]{24,}`)

// redactRuns replaces each keyLike run in s with REDACTED.
func redactRuns(s string) string { return keyLike.ReplaceAllLiteralString(s, "REDACTED") }

// event is what a change records of itself; the actor, time and client
// come from the transaction and its context.
type event struct {
	action         string
	targetKind     string
	targetTokenID  int64
	targetMemberID int64
	target         string
	details        map[string]any
}

// tokenEvent is an event about token t.
func tokenEvent(action string, t Token, details map[string]any) event {
	return event{action: action, targetKind: TargetToken, targetTokenID: t.ID, target: tokenLabel(t.Kind, t.LastFour, t.Name), details: details}
}

// memberEvent is an event about member m.
func memberEvent(action string, m Member, details map[string]any) event {
	return event{action: action, targetKind: TargetMember, targetMemberID: m.ID, target: memberLabel(m.Name, m.Email), details: details}
}

func memberLabel(name, email string) string { return name + " <" + email + ">" }

func tokenLabel(kind TokenKind, lastFour, name string) string {
	return Token{Kind: kind, LastFour: lastFour}.Hint() + " (" + name + ")"
}

// eventActor is who an event says acted.
type eventActor struct {
	kind              string
	memberID, tokenID int64
	label             string
}

var cliActor = eventActor{kind: ActorCLI, label: "command line"}

// actorFor names a as an event's actor, as the database has them now: the
// token acting (with its member, for a personal token), the member signed
// in, or, with neither, the command line.
func actorFor(ctx context.Context, tx *Tx, a acting) (eventActor, error) {
	switch {
	case a.tokenID != 0:
		var kind TokenKind
		var lastFour, name, mName, mEmail string
		var memberID int64
		err := tx.QueryRowContext(ctx, `SELECT t.kind, t.last_four, t.name, coalesce(m.id, 0), coalesce(m.name, ''), coalesce(m.email, '')
			FROM tokens t LEFT JOIN members m ON m.id = t.member_id WHERE t.id = ?`, a.tokenID).
			Scan(&kind, &lastFour, &name, &memberID, &mName, &mEmail)
		if err != nil {
			return eventActor{}, err
		}
		label := tokenLabel(kind, lastFour, name)
		if memberID != 0 {
			label += " of " + memberLabel(mName, mEmail)
		}
		return eventActor{kind: ActorToken, memberID: memberID, tokenID: a.tokenID, label: label}, nil
	case a.memberID != 0:
		var name, email string
		if err := tx.QueryRowContext(ctx, `SELECT name, email FROM members WHERE id = ?`, a.memberID).Scan(&name, &email); err != nil {
			return eventActor{}, err
		}
		return eventActor{kind: ActorMember, memberID: a.memberID, label: memberLabel(name, email)}, nil
	}
	return cliActor, nil
}

// record writes e as done by a in org, in tx: the event commits with the
// change it records, or neither does.
func record(ctx context.Context, tx *Tx, orgID int64, a acting, e event) error {
	who, err := actorFor(ctx, tx, a)
	if err != nil {
		return err
	}
	return recordAs(ctx, tx, orgID, who, e)
}

func recordAs(ctx context.Context, tx *Tx, orgID int64, who eventActor, e event) error {
	details := []byte("{}")
	if len(e.details) > 0 {
		var err error
		if details, err = json.Marshal(e.details); err != nil {
			return err
		}
	}
	c := clientOf(ctx)
	if who.kind == ActorCLI {
		c = Client{}
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO audit_events (org_id, at, action, actor_kind, actor_member_id, actor_token_id, actor_label,
		target_kind, target_token_id, target_member_id, target_label, client_ip, user_agent, details)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		orgID, tx.now.Unix(), e.action, who.kind, nullID(who.memberID), nullID(who.tokenID), who.label,
		e.targetKind, nullID(e.targetTokenID), nullID(e.targetMemberID), e.target,
		c.Addr, cleanUserAgent(c.UserAgent), string(details))
	return err
}

// AuditFilter selects events of the acting organization. Zero fields
// select everything.
type AuditFilter struct {
	// Action is one of the Action* keys.
	Action string
	// ActorKind is ActorMember, ActorToken, ActorCLI or ActorAnonymous.
	ActorKind string
	// ActorMemberID and ActorTokenID select events done by that member
	// (themselves or through their tokens) or that token.
	ActorMemberID int64
	ActorTokenID  int64
	// TokenID selects events about that token or done by it; MemberID,
	// events about that member, their personal tokens, or done by them.
	TokenID  int64
	MemberID int64
	// Since and Until bound the event's time: Since <= at < Until.
	Since, Until time.Time
	// BeforeID pages: events older than that id; Limit caps how many
	// (0: DefaultAuditPage, at most MaxAuditPage).
	BeforeID int64
	Limit    int
}

// Page sizes of the audit log.
const (
	DefaultAuditPage = 50
	MaxAuditPage     = 1000
)

// Validate refuses a filter that names an unknown action or actor kind, or
// a range that ends before it starts.
func (f AuditFilter) Validate() error {
	if f.Action != "" && ActionTitle(f.Action) == f.Action {
		return fieldError("action", "%q is not an audit action", f.Action)
	}
	switch f.ActorKind {
	case "", ActorMember, ActorToken, ActorCLI, ActorAnonymous:
	default:
		return fieldError("actor_kind", "actor kind must be member, token, cli or anonymous")
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Until.After(f.Since) {
		return fieldError("until", "the end of the range must be after its start")
	}
	if f.Limit < 0 || f.Limit > MaxAuditPage {
		return fieldError("limit", "limit must be between 1 and %d", MaxAuditPage)
	}
	return nil
}

// AuditEvents lists the events of the actor's organization that match f,
// newest first. Only the owner (on the API, a token acting as admin) may.
func (d *DB) AuditEvents(ctx context.Context, actor Actor, f AuditFilter) ([]AuditEvent, error) {
	a := actor.acting()
	if !a.manager {
		return nil, Errorf(EFORBIDDEN, "Only the organization owner can see the audit log.")
	}
	if err := f.Validate(); err != nil {
		return nil, err
	}
	where := []string{`org_id = ?`}
	args := []any{a.orgID}
	add := func(cond string, vs ...any) {
		where = append(where, cond)
		args = append(args, vs...)
	}
	if f.Action != "" {
		add(`action = ?`, f.Action)
	}
	if f.ActorKind != "" {
		add(`actor_kind = ?`, f.ActorKind)
	}
	if f.ActorMemberID != 0 {
		add(`actor_member_id = ?`, f.ActorMemberID)
	}
	if f.ActorTokenID != 0 {
		add(`actor_token_id = ?`, f.ActorTokenID)
	}
	// A token's events are those about it or by it; a member's, those
	// about them, by them, or about one of their personal tokens. Each of
	// these is read apart through its own index, newest first and no more
	// than a page, and the pages merged: an OR of them would make the
	// database walk every event of the organization to find the few of a
	// token used once.
	type branch struct {
		cond string
		arg  int64
	}
	var branches []branch
	switch {
	case f.MemberID != 0:
		branches = []branch{{`target_member_id = ?`, f.MemberID}, {`actor_member_id = ?`, f.MemberID},
			{`target_token_id IN (SELECT id FROM tokens WHERE member_id = ?)`, f.MemberID}}
		if f.TokenID != 0 {
			add(`(target_token_id = ? OR actor_token_id = ?)`, f.TokenID, f.TokenID)
		}
	case f.TokenID != 0:
		branches = []branch{{`target_token_id = ?`, f.TokenID}, {`actor_token_id = ?`, f.TokenID}}
	}
	if !f.Since.IsZero() {
		add(`at >= ?`, f.Since.Unix())
	}
	if !f.Until.IsZero() {
		add(`at < ?`, f.Until.Unix())
	}
	if f.BeforeID > 0 {
		add(`id < ?`, f.BeforeID)
	}
	limit := f.Limit
	if limit == 0 {
		limit = DefaultAuditPage
	}
	cond := strings.Join(where, " AND ")
	if len(branches) > 0 {
		var union []string
		var unionArgs []any
		for i, b := range branches {
			union = append(union, fmt.Sprintf(`SELECT id FROM (SELECT id FROM audit_events WHERE %s AND %s ORDER BY id DESC LIMIT %d) b%d`, cond, b.cond, limit, i))
			unionArgs = append(append(unionArgs, args...), b.arg)
		}
		cond, args = `id IN (`+strings.Join(union, " UNION ")+`)`, unionArgs
	}
	rows, err := d.db.QueryContext(ctx, `SELECT id, at, action, actor_kind, coalesce(actor_member_id, 0), coalesce(actor_token_id, 0), actor_label,
		target_kind, coalesce(target_token_id, 0), coalesce(target_member_id, 0), target_label, client_ip, user_agent, details
		FROM audit_events WHERE `+cond+fmt.Sprintf(` ORDER BY id DESC LIMIT %d`, limit), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var es []AuditEvent
	for rows.Next() {
		var e AuditEvent
		var at int64
		var details string
		if err := rows.Scan(&e.ID, &at, &e.Action, &e.ActorKind, &e.ActorMemberID, &e.ActorTokenID, &e.Actor,
			&e.TargetKind, &e.TargetTokenID, &e.TargetMemberID, &e.Target, &e.ClientIP, &e.UserAgent, &details); err != nil {
			return nil, err
		}
		e.At, e.Details = unixTime(at), json.RawMessage(details)
		es = append(es, e)
	}
	return es, rows.Err()
}

// Audit retention choices, in days; 0 keeps events forever.
var AuditRetentionChoices = []int{90, 365, 0}

// DefaultAuditRetentionDays is what an organization keeps until its owner
// chooses.
const DefaultAuditRetentionDays = 365

// SetAuditRetention sets how long the actor's organization keeps its audit
// events: 90 or 365 days, or 0 for forever. Older events are pruned in the
// background. Only the owner (on the API, a token acting as admin) may.
func (d *DB) SetAuditRetention(ctx context.Context, actor Actor, days int) (Org, error) {
	a := actor.acting()
	if !a.manager {
		return Org{}, Errorf(EFORBIDDEN, "Only the organization owner can set how long the audit log is kept.")
	}
	if !slices.Contains(AuditRetentionChoices, days) {
		return Org{}, fieldError("audit_retention_days", "Keep audit events for 90 days, 1 year or forever.")
	}
	return d.changePolicy(ctx, a, "audit_retention_days", `audit_retention_days`, days)
}

// changePolicy sets one of the organization's settings (column, NULL for
// 0) and records the change with its old and new value.
func (d *DB) changePolicy(ctx context.Context, a acting, setting, column string, value int) (Org, error) {
	tx, err := d.begin(ctx)
	if err != nil {
		return Org{}, err
	}
	defer tx.Rollback()
	if err := checkActor(ctx, tx, a); err != nil {
		return Org{}, err
	}
	var old sql.NullInt64
	if err := tx.QueryRowContext(ctx, `SELECT `+column+` FROM orgs WHERE id = ?`, a.orgID).Scan(&old); err != nil {
		return Org{}, err
	}
	if int(old.Int64) != value {
		if _, err := tx.ExecContext(ctx, `UPDATE orgs SET `+column+` = ? WHERE id = ?`, nullID(int64(value)), a.orgID); err != nil {
			return Org{}, err
		}
		e := event{action: ActionPolicyChanged, targetKind: TargetOrg, target: "organization",
			details: map[string]any{"setting": setting, "from": nullDays(old), "to": nullDays(sql.NullInt64{Int64: int64(value), Valid: value != 0})}}
		if err := record(ctx, tx, a.orgID, a, e); err != nil {
			return Org{}, err
		}
	}
	if err := tx.Commit(); err != nil {
		return Org{}, err
	}
	return d.orgByID(ctx, a.orgID)
}

// nullDays is a setting in days for an event's details: null for none.
func nullDays(v sql.NullInt64) any {
	if !v.Valid {
		return nil
	}
	return v.Int64
}

// pruneAuditEvents deletes the events each organization keeps no longer.
func (d *DB) pruneAuditEvents(ctx context.Context) (int64, error) {
	res, err := d.w.ExecContext(ctx, `DELETE FROM audit_events WHERE at < ? - 86400 *
		(SELECT audit_retention_days FROM orgs WHERE orgs.id = audit_events.org_id)`, d.now().Unix())
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// pruneInterval is how often the background work prunes audit events.
const pruneInterval = time.Hour

// pruneHourly prunes audit events and usage counts if it has not within
// the hour, the first time an hour after start; only the background
// goroutine calls it. The hour is the machine's: d.Now is the store's
// clock for what it records, which tests set after Open.
func (d *DB) pruneHourly(ctx context.Context) error {
	if d.lastPrune.IsZero() {
		d.lastPrune = time.Now()
	}
	if now := time.Now(); now.Sub(d.lastPrune) >= pruneInterval {
		if _, err := d.pruneAuditEvents(ctx); err != nil {
			return err
		}
		if err := d.pruneUsage(ctx); err != nil {
			return err
		}
		d.lastPrune = now
	}
	return nil
}

// PruneAuditEvents deletes now what the background work would delete
// within the hour; it returns how many events went.
func (d *DB) PruneAuditEvents(ctx context.Context) (int64, error) { return d.pruneAuditEvents(ctx) }
