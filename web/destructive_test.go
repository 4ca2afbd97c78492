package web_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"
)

// TestDestructiveActionsLookDestructive: Disable, "Sign out everywhere"
// and "Sign out all other sessions" are danger-styled links to a
// confirmation page (no JavaScript), which says what will happen and
// whose button is danger-styled too; "Sign out all other sessions" is
// not offered when there are no others.
func TestDestructiveActionsLookDestructive(t *testing.T) {
	t.Parallel()
	a := newApp(t, newBackends(t), options{})
	admin := newAdmin(t, a, "boss")
	worker := newBrowser(t, a.URL)
	wantRedirect(t, worker.signup("worker", "password-1"), "/dashboard")

	// One session: nothing to sign out.
	if n := doc(t, worker.get("/account/sessions")).Find("#revoke-others").Length(); n != 0 {
		t.Error("Sign out all other sessions is offered with no other session")
	}
	wantRedirect(t, newBrowser(t, a.URL).login("worker", "password-1"), "/dashboard")
	link := doc(t, worker.get("/account/sessions")).Find("#revoke-others")
	wantDangerLink(t, worker, link, "Sign out all other sessions", "is signed out at once")

	_, _, _, id := adminRow(t, admin, "worker", "worker")
	row := doc(t, admin.get("/admin/users?q=worker")).Find(`tr[data-username="worker"]`)
	wantDangerLink(t, admin, row.Find(`a[href="/admin/users/`+id+`/disable"]`), "Disable worker", "signed out everywhere at once")
	wantDangerLink(t, admin, row.Find(`a[href="/admin/users/`+id+`/revoke-sessions"]`), "Sign out everywhere worker", "ends at once")
	// Enabling and changing roles are not destructive: plain buttons.
	if row.Find("form button.danger").Length() != 0 {
		t.Error("a non-destructive admin action is danger-styled")
	}
}

// wantDangerLink checks that link is one danger-styled link reading text
// whose page, a confirmation, explains (containing explain) and asks with
// a danger-styled button in a form without script.
func wantDangerLink(t *testing.T, b *browser, link *goquery.Selection, text, explain string) {
	t.Helper()
	if link.Length() != 1 || !link.HasClass("danger") {
		t.Fatalf("%q: want one link with the danger style, got %d (class %q)", text, link.Length(), link.AttrOr("class", ""))
	}
	if got := strings.Join(strings.Fields(link.Text()), " "); got != text {
		t.Errorf("link reads %q, want %q", got, text)
	}
	href, _ := link.Attr("href")
	r := b.get(href)
	wantStatus(t, r, http.StatusOK)
	d := doc(t, r)
	if got := strings.TrimSpace(d.Find("#explain").Text()); !strings.Contains(got, explain) {
		t.Errorf("%s: the confirmation page explains %q, want it to say %q", href, got, explain)
	}
	if d.Find(`form[method="post"] button.danger[type="submit"]`).Length() != 1 || !onlyStaticScripts(d) {
		t.Errorf("%s: want a form with one danger-styled submit button and no script but the app's own file", href)
	}
}
