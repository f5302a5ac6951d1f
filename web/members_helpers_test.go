package web

// Helpers of the Members tests (members_test.go, invitations_test.go).

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"tokend/store"
)

// memberNames are the names in the member list of a Members page, in order.
func (r *response) memberNames() []string {
	var names []string
	r.doc.Find(`[data-testid=member-row] [data-testid=member-name]`).Each(func(_ int, s *goquery.Selection) {
		name := s.Clone()
		name.Find(`[data-testid=member-you]`).Remove()
		names = append(names, strings.TrimSpace(name.Text()))
	})
	return names
}

// memberRow is the row of the member with this id.
func (r *response) memberRow(t *testing.T, id int64) *goquery.Selection {
	t.Helper()
	row := r.doc.Find(fmt.Sprintf(`[data-testid=member-row][data-member-id="%d"]`, id))
	if row.Length() != 1 {
		t.Fatalf("no row for member %d in %q", id, r.memberNames())
	}
	return row
}

func memberCell(s *goquery.Selection, testid string) string {
	return strings.Join(strings.Fields(s.Find(`[data-testid=`+testid+`]`).Text()), " ")
}

// auditTail is the organization's newest n audit events, newest first, as
// "action actor_kind target".
func (a *testApp) auditTail(t *testing.T, owner store.Member, n int) []string {
	t.Helper()
	evs, err := a.db.AuditEvents(context.Background(), owner, store.AuditFilter{Limit: n})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range evs {
		out = append(out, e.Action+" "+e.ActorKind+" "+e.Target)
	}
	return out
}

// auditCount is how many events the organization of owner has.
func (a *testApp) auditCount(t *testing.T, owner store.Member) int {
	t.Helper()
	return len(a.auditTail(t, owner, store.MaxAuditPage))
}

// pending are the emails of the organization's pending invitations.
func (a *testApp) pending(t *testing.T, owner store.Member) []string {
	t.Helper()
	invs, err := a.db.PendingInvitations(context.Background(), owner)
	if err != nil {
		t.Fatal(err)
	}
	var emails []string
	for _, inv := range invs {
		emails = append(emails, inv.Email)
	}
	return emails
}

// invite fills in Invite member as c and returns the answer.
func (c *client) invite(name, email string, roles ...store.Role) *response {
	c.t.Helper()
	c.get("/members/invite")
	form := url.Values{"name": {name}, "email": {email}}
	for _, r := range roles {
		form.Add("roles", string(r))
	}
	return c.postForm("/members/invitations", form)
}

var invitationLinkRE = regexp.MustCompile(`^http://127\.0\.0\.1:\d+/invitations/([0-9A-Za-z]{32})$`)

// invitationPath is the path of the link a page shows, and its code.
func (r *response) invitationPath(t *testing.T) (path, code string) {
	t.Helper()
	link, _ := r.doc.Find(`[data-testid=invitation-link-value]`).Attr("value")
	m := invitationLinkRE.FindStringSubmatch(link)
	if m == nil {
		t.Fatalf("invitation link %q is not this server's /invitations/<32 base62 characters>\n%s", link, r.body)
	}
	return "/invitations/" + m[1], m[1]
}

// inviteLink has the owner invite someone and returns the link's path.
func (a *testApp) inviteLink(t *testing.T, owner *client, name, email string, roles ...store.Role) string {
	t.Helper()
	r := owner.invite(name, email, roles...)
	if r.StatusCode != http.StatusCreated {
		t.Fatalf("invite %s: status %d\n%s", email, r.StatusCode, r.body)
	}
	path, _ := r.invitationPath(t)
	return path
}

// join opens the link in a browser of its own and joins with name.
func (a *testApp) join(t *testing.T, path, name string) (*client, *response) {
	t.Helper()
	c := a.client()
	if r := c.get(path); r.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: status %d\n%s", path, r.StatusCode, r.body)
	}
	r := c.postForm(path, url.Values{"name": {name}, "password": {testPassword}, "password_confirm": {testPassword}})
	return c, r
}

// membersRoute is an owner-only route of the Members pages, with what a
// crafted request would send.
type membersRoute struct {
	method, path string
	form         url.Values
	// withID: the path names a member or an invitation.
	withID bool
}

// membersRoutes are every owner-only route of the Members pages; the ids
// are a member's and an invitation's.
func membersRoutes(member, invitation int64) []membersRoute {
	return []membersRoute{
		{"GET", "/members", nil, false},
		{"GET", "/members?view=former", nil, false},
		{"GET", "/members/invite", nil, false},
		{"POST", "/members/invitations", url.Values{"name": {"Eve"}, "email": {"eve@acme.test"}, "roles": {"admin"}}, false},
		{"POST", fmt.Sprintf("/members/invitations/%d/withdraw", invitation), nil, true},
		{"GET", fmt.Sprintf("/members/%d/roles", member), nil, true},
		{"POST", fmt.Sprintf("/members/%d/roles", member), url.Values{"roles": {"admin"}}, true},
		{"GET", fmt.Sprintf("/members/%d/remove", member), nil, true},
		{"POST", fmt.Sprintf("/members/%d/remove", member), nil, true},
	}
}

// membersState is what the Members routes could change, as the owner of
// org sees it.
func (a *testApp) membersState(t *testing.T, owner store.Member) string {
	t.Helper()
	ms, err := a.db.ListMembers(context.Background(), owner, store.MemberFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, m := range ms {
		fmt.Fprintf(&b, "%d %s %v %d; ", m.ID, m.Email, m.Roles, m.ActiveTokens)
	}
	fmt.Fprintf(&b, "pending %q; events %d", a.pending(t, owner), a.auditCount(t, owner))
	return b.String()
}
