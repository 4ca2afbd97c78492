package web_test

import (
	"net/url"
	"testing"
)

// TestLoginReturnsToNext: an anonymous request for a protected page is sent
// to the login page with ?next=, the form carries it, and the sign-in
// lands there.
func TestLoginReturnsToNext(t *testing.T) {
	t.Parallel()
	a := newApp(t, newBackends(t), options{})
	newBrowser(t, a.URL).signup("ada", "correct horse battery")

	b := newBrowser(t, a.URL)
	wantRedirect(t, b.get("/account/sessions?x=1"), "/login?next=%2Faccount%2Fsessions%3Fx%3D1")
	d := doc(t, b.get("/login?next=%2Faccount%2Fsessions%3Fx%3D1"))
	if got, _ := d.Find(`form input[name="next"]`).Attr("value"); got != "/account/sessions?x=1" {
		t.Fatalf("the login form carries next %q", got)
	}
	// A mistake keeps it.
	r := b.postForm("/login", url.Values{"username": {"ada"}, "password": {"wrong horse battery"}, "next": {"/account/sessions?x=1"}})
	if got, _ := doc(t, r).Find(`form input[name="next"]`).Attr("value"); got != "/account/sessions?x=1" {
		t.Fatalf("after a wrong password, the form carries next %q", got)
	}
	r = b.postForm("/login", url.Values{"username": {"ada"}, "password": {"correct horse battery"}, "next": {"/account/sessions?x=1"}})
	wantRedirect(t, r, "/account/sessions?x=1")
	// Signed in already: the login page sends on to next, too.
	wantRedirect(t, b.get("/login?next=%2Faccount%2Fpassword"), "/account/password")
}

// TestLoginNextIsLocal: next leads only to a path on this site. Anything a
// browser could read as another site (or that Go's or a proxy's URL
// handling could) goes to the dashboard, from the form and from the
// signed-in login page alike.
func TestLoginNextIsLocal(t *testing.T) {
	t.Parallel()
	a := newApp(t, newBackends(t), options{})
	newBrowser(t, a.URL).signup("ada", "correct horse battery")
	for _, next := range []string{
		"//evil.example",
		"///evil.example",
		`/\evil.example`,
		`\\evil.example`,
		"%2F%2Fevil.example", // the value after one decoding: not a path
		"/.//evil.example",
		"https:evil.example",
		"https://evil.example",
		"javascript:alert(1)",
		"evil.example",
		"/\tevil.example",
		"/\t/evil.example",
		"/\n/evil.example",
		"/\r\n/evil.example",
		"/ /evil.example",
		"\x00/evil.example",
		"",
	} {
		want := "/dashboard"
		switch next {
		case "/.//evil.example":
			want = "/evil.example" // a local path; http.Redirect cleans it
		case "/ /evil.example":
			want = next // a local path, odd as it is
		}
		b := newBrowser(t, a.URL)
		r := b.postForm("/login", url.Values{"username": {"ada"}, "password": {"correct horse battery"}, "next": {next}})
		if got := r.Header.Get("Location"); got != want {
			t.Errorf("next %q: sign-in leads to %q, want %q", next, got, want)
		}
		r = b.get("/login?next=" + url.QueryEscape(next))
		if got := r.Header.Get("Location"); got != want {
			t.Errorf("next %q, signed in: the login page leads to %q, want %q", next, got, want)
		}
	}
}
