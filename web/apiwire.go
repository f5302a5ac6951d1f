package web

import (
	"net/http"
	"time"
	"tokend/store"
)

// The API's wire types: what a request's JSON and answers look like, and
// the error every refusal is written as.

// apiError is an error answered as JSON on the API:
// {"error":{"code":…,"message":…,"field":…}}.
type apiError struct {
	Status  int    `json:"-"`
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
	// RetryAfter, for 429, is how long to wait.
	RetryAfter time.Duration `json:"-"`
}

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

// invalidRequest is a 400 about field ("" for the request as a whole).
func invalidRequest(field, message string) *apiError {
	return &apiError{Status: http.StatusBadRequest, Code: "invalid_request", Field: field, Message: message}
}

// apiOrg is an organization as the API shows it.
type apiOrg struct {
	ID   int64  `json:"id"`
	Name string `json:"name,omitempty"`
}

// apiMember is a member as the API shows one.
type apiMember struct {
	ID    int64  `json:"id"`
	Email string `json:"email"`
	Name  string `json:"name"`
}

// apiPrincipal is GET /api/v1/token: the token presented.
type apiPrincipal struct {
	ID           int64      `json:"id"`
	Kind         string     `json:"kind"`
	Name         string     `json:"name"`
	Hint         string     `json:"hint"`
	LastFour     string     `json:"last_four"`
	Organization apiOrg     `json:"organization"`
	Member       *apiMember `json:"member,omitempty"`
	Roles        []string   `json:"roles"`
	CreatedAt    time.Time  `json:"created_at"`
	ExpiresAt    *time.Time `json:"expires_at"`
	LastUsedAt   *time.Time `json:"last_used_at"`
}

func toAPIPrincipal(p store.Principal) apiPrincipal {
	out := apiPrincipal{
		ID: p.TokenID, Kind: string(p.Kind), Name: p.Name, Hint: p.Hint(), LastFour: p.LastFour,
		Organization: apiOrg{ID: p.OrgID, Name: p.OrgName},
		Roles:        roleKeys(p.Roles),
		CreatedAt:    p.CreatedAt, ExpiresAt: optTime(p.ExpiresAt), LastUsedAt: optTime(p.LastUsedAt),
	}
	if p.Kind == store.KindPersonal {
		out.Member = &apiMember{ID: p.MemberID, Email: p.MemberEmail, Name: p.MemberName}
	}
	return out
}

// apiToken is a token as the API lists it: never its secret.
type apiToken struct {
	ID        int64      `json:"id"`
	Kind      string     `json:"kind"`
	Name      string     `json:"name"`
	Hint      string     `json:"hint"`
	LastFour  string     `json:"last_four"`
	State     string     `json:"state"`
	Roles     []string   `json:"roles,omitempty"`
	Member    *apiMember `json:"member,omitempty"`
	CreatedAt time.Time  `json:"created_at"`
	// CreatedBy is the name of the member who made it, or "system token
	// NAME": a string, as it always was; the two below say it exactly.
	CreatedBy       string           `json:"created_by"`
	CreatedByMember *apiCreator      `json:"created_by_member,omitempty"`
	CreatedByToken  *apiCreatorToken `json:"created_by_token,omitempty"`
	// CreatorLeft: the member who made it has left the organization. A
	// system token they made still works; someone should look at it.
	CreatorLeft  bool       `json:"creator_left"`
	ExpiresAt    *time.Time `json:"expires_at"`
	LastUsedAt   *time.Time `json:"last_used_at"`
	LastUsedIP   string     `json:"last_used_ip,omitempty"`
	RevokedAt    *time.Time `json:"revoked_at,omitempty"`
	RevokeReason string     `json:"revoke_reason,omitempty"`
	Description  string     `json:"description"`
	// AllowedIPs are the addresses and ranges it may be used from; empty
	// for any.
	AllowedIPs []string `json:"allowed_ips"`
	// RotatedAt is when its secret was last replaced; until GraceUntil the
	// one before works too.
	RotatedAt  *time.Time `json:"rotated_at,omitempty"`
	GraceUntil *time.Time `json:"grace_until,omitempty"`
	LeakedAt   *time.Time `json:"leaked_at,omitempty"`
}

// apiCreator is the member who made a token: on the page, or through one of
// their personal tokens.
type apiCreator struct {
	apiMember
	LeftAt *time.Time `json:"left_at,omitempty"`
}

// apiCreatorToken is the token that made a token on the API.
type apiCreatorToken struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
	Hint string `json:"hint"`
}

func toAPIToken(t store.Token, now time.Time) apiToken {
	out := apiToken{
		ID: t.ID, Kind: string(t.Kind), Name: t.Name, Hint: t.Hint(), LastFour: t.LastFour,
		State: t.State(now), Roles: roleKeys(t.Roles),
		CreatedAt: t.CreatedAt, CreatedBy: t.CreatedByName, CreatorLeft: !t.CreatorLeft.IsZero(),
		ExpiresAt: optTime(t.ExpiresAt), LastUsedAt: optTime(t.LastUsedAt), LastUsedIP: t.LastUsedIP,
		RevokedAt: optTime(t.RevokedAt), RevokeReason: t.RevokeReason,
		Description: t.Description, AllowedIPs: t.AllowedIPs.Strings(),
		RotatedAt: optTime(t.RotatedAt), GraceUntil: optTime(t.GraceUntil), LeakedAt: optTime(t.LeakedAt),
	}
	if t.Kind == store.KindPersonal {
		out.Member = &apiMember{ID: t.MemberID, Email: t.MemberEmail, Name: t.MemberName}
	}
	if t.CreatedBy != 0 {
		out.CreatedByMember = &apiCreator{
			apiMember: apiMember{ID: t.CreatedBy, Email: t.CreatedByEmail, Name: t.CreatedByName},
			LeftAt:    optTime(t.CreatorLeft),
		}
	}
	if t.CreatedByToken != 0 {
		out.CreatedByToken = &apiCreatorToken{ID: t.CreatedByToken, Name: t.CreatedByTokenName, Hint: t.CreatedByTokenHint}
		if t.CreatedBy == 0 {
			out.CreatedBy = "system token " + t.CreatedByTokenName
		}
	}
	return out
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func roleKeys(rs []store.Role) []string {
	keys := make([]string, len(rs))
	for i, r := range rs {
		keys[i] = string(r)
	}
	return keys
}
