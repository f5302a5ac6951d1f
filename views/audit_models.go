package views

// AuditPage is the Audit Log: the organization's events, newest first,
// narrowed by the filters in the URL.
type AuditPage struct {
	Viewer Viewer
	// Flash is a one-time message: what just happened.
	Flash  string
	Filter AuditFilterForm
	// Active are the filters in force, as people read them; empty when the
	// log is shown whole.
	Active []AuditActiveFilter
	Events []AuditRow
	// MoreURL links to the next page of older events, filters kept; empty
	// on the last page. NewestURL links back to the first page, filters
	// kept; empty on the first page.
	MoreURL   string
	NewestURL string
	// ExportCSV and ExportJSONL download every event the filters match.
	ExportCSV, ExportJSONL string
	// Retention is the choice of how long events are kept; RetentionError,
	// why the one posted was refused.
	Retention      []Option
	RetentionError string
	// Errors by filter field, when a filter could not be read: then no
	// events are listed.
	Errors map[string]string
}

// Invalid reports whether a filter could not be read.
func (p AuditPage) Invalid() bool { return len(p.Errors) > 0 }

// AuditFilterForm is the filter form, with what is in the URL.
type AuditFilterForm struct {
	Actions    []Option
	ActorKinds []Option
	// The ids and dates as typed (dates YYYY-MM-DD, UTC).
	TokenID, MemberID, ActorTokenID, ActorMemberID string
	From, To                                       string
}

// AuditActiveFilter is one filter in force, with a link that drops it.
type AuditActiveFilter struct {
	Name      string // what it filters: "Action", "Token", …
	Value     string // e.g. "Token revoked", "tks_…a1B9 (deploy)"
	RemoveURL string
}

// AuditRow is one event in the log.
type AuditRow struct {
	ID int64
	// Time is when, as people read it; TimeISO for <time datetime>.
	Time, TimeISO string
	Action        string // as people read it
	ActionKey     string // e.g. token.revoked
	// ActorKind is "Member", "Token", "Command line" or "Anonymous", shown
	// as a badge; empty where Actor alone says it all ("Command line").
	// ActorURL lists the events of that member or token.
	ActorKind string
	Actor     string
	ActorURL  string
	// Target is what the action was done to; TargetURL lists its events.
	Target    string
	TargetURL string
	ClientIP  string
	UserAgent string
	Details   []AuditDetail
}

// AuditDetail is one particular of an event: "reason: revoked".
type AuditDetail struct {
	Key, Value string
}

// auditFilterFields are the filters in the order the form has them: ""
// for the query as a whole, and before for the paging link's.
var auditFilterFields = []string{"", "action", "actor_kind", "token_id", "member_id", "actor_token_id", "actor_member_id", "from", "to", "before"}

// Problem says what is wrong with the filters, the first field first.
func (p AuditPage) Problem() string {
	for _, f := range auditFilterFields {
		if msg := p.Errors[f]; msg != "" {
			return "The filters could not be read, so no events are listed: " + msg
		}
	}
	return ""
}
