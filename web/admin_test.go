package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/primitive"

	"github.com/gatehouse/gatehouse/internal/mongo"
	"github.com/gatehouse/gatehouse/internal/user"
)

// withUsers runs fn on the users collection directly, as an operator
// working behind the app's back would.
func withUsers(t *testing.T, be backends, fn func(ctx context.Context, filter func(id string) bson.D, do func(op string, f, u bson.D))) {
	t.Helper()
	client, err := mongo.Connect(context.Background(), be.mongoURI, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Disconnect(context.Background())
	coll := client.Database(be.mongoDB).Collection("users")
	ctx := context.Background()
	byID := func(id string) bson.D {
		oid, err := primitive.ObjectIDFromHex(id)
		if err != nil {
			t.Fatal(err)
		}
		return bson.D{{Key: "_id", Value: oid}}
	}
	fn(ctx, byID, func(op string, f, u bson.D) {
		var err error
		switch op {
		case "delete":
			_, err = coll.DeleteOne(ctx, f)
		case "update":
			_, err = coll.UpdateOne(ctx, f, u)
		}
		if err != nil {
			t.Fatal(err)
		}
	})
}

func deleteUser(t *testing.T, be backends, id string) {
	t.Helper()
	withUsers(t, be, func(_ context.Context, byID func(string) bson.D, do func(string, bson.D, bson.D)) {
		do("delete", byID(id), nil)
	})
}

func disableInDB(t *testing.T, be backends, id string) {
	t.Helper()
	withUsers(t, be, func(_ context.Context, byID func(string) bson.D, do func(string, bson.D, bson.D)) {
		do("update", byID(id), bson.D{{Key: "$set", Value: bson.D{{Key: "disabled", Value: true}}}})
	})
}

// newAdmin creates an admin through the service, as `gatehouse user add`
// does, and signs them in.
func newAdmin(t *testing.T, a *app, name string) *browser {
	t.Helper()
	if _, err := a.users.Create(context.Background(), name, "password-1", user.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t, a.URL)
	wantRedirect(t, b.login(name, "password-1"), "/dashboard")
	return b
}

// adminRow finds a user's row on the admin page.
func adminRow(t *testing.T, b *browser, query, username string) (role, status, sessions, id string) {
	t.Helper()
	r := b.get("/admin/users?q=" + url.QueryEscape(query))
	wantStatus(t, r, http.StatusOK)
	row := doc(t, r).Find(`#users tr[data-username="` + username + `"]`)
	if row.Length() != 1 {
		t.Fatalf("no row for %s in %q", username, r.body)
	}
	action, _ := row.Find("form").First().Attr("action")
	parts := strings.Split(action, "/")
	return strings.TrimSpace(row.Find(".role").Text()), strings.TrimSpace(row.Find(".status").Text()), strings.TrimSpace(row.Find(".count").Text()), parts[3]
}

func TestAdminAreaIsForAdmins(t *testing.T) {
	t.Parallel()
	a := newApp(t, newBackends(t), options{})
	b := newBrowser(t, a.URL)
	wantRedirect(t, b.signup("plain", "password-1"), "/dashboard")
	r := b.get("/admin/users")
	wantStatus(t, r, http.StatusForbidden)
	if got := text(doc(t, r), "h1"); got != "Request refused" {
		t.Fatalf("got heading %q", got)
	}
	wantStatus(t, b.postForm("/admin/users/000000000000000000000000/promote", nil), http.StatusForbidden)
	wantRedirect(t, newBrowser(t, a.URL).get("/admin/users"), "/login?next=%2Fadmin%2Fusers")
	if doc(t, b.get("/dashboard")).Find(`nav a[href="/admin/users"]`).Length() != 0 {
		t.Fatal("a plain user's navigation links to the admin area")
	}
}

func TestAdminActions(t *testing.T) {
	t.Parallel()
	clock := newClock()
	be := newBackends(t)
	a := newApp(t, be, options{now: clock.now})
	other := newApp(t, be, options{now: clock.now})
	admin := newAdmin(t, a, "boss")
	if doc(t, admin.get("/dashboard")).Find(`nav a[href="/admin/users"]`).Length() != 1 {
		t.Fatal("no admin link in the admin's navigation")
	}
	worker := newBrowser(t, a.URL)
	wantRedirect(t, worker.signup("worker", "password-1"), "/dashboard")
	// The worker also uses the other instance.
	workerThere := newBrowser(t, other.URL)
	wantRedirect(t, workerThere.login("worker", "password-1"), "/dashboard")

	role, status, sessions, id := adminRow(t, admin, "WORK", "worker")
	if role != "user" || status != "Active" || sessions != "2" {
		t.Fatalf("got %s/%s/%s, want user/Active/2", role, status, sessions)
	}

	// Disabling signs the worker out everywhere at once.
	wantRedirect(t, admin.postForm("/admin/users/"+id+"/disable", nil), "/admin/users")
	wantRedirect(t, workerThere.get("/dashboard"), "/login?why=security")
	wantRedirect(t, worker.get("/dashboard"), "/login?why=security")
	wantStatus(t, newBrowser(t, a.URL).login("worker", "password-1"), http.StatusUnprocessableEntity)
	if _, status, sessions, _ := adminRow(t, admin, "worker", "worker"); status != "Disabled" || sessions != "0" {
		t.Fatalf("after disable: %s, %s sessions", status, sessions)
	}
	wantRedirect(t, admin.postForm("/admin/users/"+id+"/enable", nil), "/admin/users")
	wantRedirect(t, worker.login("worker", "password-1"), "/dashboard")

	// Promotion also ends the worker's sessions: the role in them is stale.
	wantRedirect(t, admin.postForm("/admin/users/"+id+"/promote", nil), "/admin/users")
	wantRedirect(t, worker.get("/dashboard"), "/login?why=security")
	wantRedirect(t, worker.login("worker", "password-1"), "/dashboard")
	wantStatus(t, worker.get("/admin/users"), http.StatusOK)
	wantRedirect(t, admin.postForm("/admin/users/"+id+"/demote", nil), "/admin/users")
	wantRedirect(t, worker.get("/admin/users"), "/login?next=%2Fadmin%2Fusers&why=security")

	// Sign out everywhere.
	wantRedirect(t, worker.login("worker", "password-1"), "/dashboard")
	wantRedirect(t, admin.postForm("/admin/users/"+id+"/revoke-sessions", nil), "/admin/users")
	wantRedirect(t, worker.get("/dashboard"), "/login?why=security")

	// The last admin can neither be demoted nor disabled, even by themself.
	_, _, _, bossID := adminRow(t, admin, "boss", "boss")
	wantRedirect(t, admin.postForm("/admin/users/"+bossID+"/demote", nil), "/admin/users")
	if got := text(doc(t, admin.get("/admin/users")), "#flash"); !strings.Contains(got, "at least one enabled admin") {
		t.Fatalf("flash: %q", got)
	}
	wantRedirect(t, admin.postForm("/admin/users/"+bossID+"/disable", nil), "/admin/users")
	if role, status, _, _ := adminRow(t, admin, "boss", "boss"); role != "admin" || status != "Active" {
		t.Fatalf("last admin changed: %s %s", role, status)
	}

	// Every action needs a recent password: past the window, its
	// confirmation page asks for it, names the action, and runs it.
	clock.advance(11 * time.Minute)
	r := admin.postForm("/admin/users/"+id+"/disable", nil)
	wantStatus(t, r, http.StatusOK)
	if got := text(doc(t, r), "#why-password"); got != "Confirm your password to disable worker." {
		t.Errorf("confirmation page: got %q", got)
	}
	if _, status, _, _ := adminRow(t, admin, "worker", "worker"); status != "Active" {
		t.Fatal("an action ran without a recent password")
	}
	wantRedirect(t, admin.postForm("/admin/users/"+id+"/disable", url.Values{"password": {"password-1"}}), "/admin/users")
	if _, status, _, _ := adminRow(t, admin, "worker", "worker"); status != "Disabled" {
		t.Fatal("the action did not run after the password was confirmed")
	}
	wantStatus(t, admin.postForm("/admin/users/"+id+"/explode", nil), http.StatusNotFound)
}

func TestAdminListPages(t *testing.T) {
	t.Parallel()
	a := newApp(t, newBackends(t), options{})
	admin := newAdmin(t, a, "chief")
	for i := range 45 {
		if _, err := a.users.Register(context.Background(), "member"+string(rune('a'+i/26))+string(rune('a'+i%26)), "password-1"); err != nil {
			t.Fatal(err)
		}
	}
	r := admin.get("/admin/users?q=member")
	wantStatus(t, r, http.StatusOK)
	d := doc(t, r)
	if n := d.Find("#users tbody tr").Length(); n != 20 {
		t.Fatalf("page 1: %d rows, want 20", n)
	}
	if got := text(d, "#summary"); got != "Showing 1–20 of 45" {
		t.Fatalf("summary: %q", got)
	}
	next, _ := d.Find(`a[rel="next"]`).Attr("href")
	if next != "/admin/users?page=2&q=member" {
		t.Fatalf("next: %q", next)
	}
	d = doc(t, admin.get("/admin/users?page=3&q=member"))
	if n := d.Find("#users tbody tr").Length(); n != 5 || d.Find(`a[rel="next"]`).Length() != 0 {
		t.Fatalf("page 3: %d rows", n)
	}
	for _, q := range []string{"page=-1", "page=abc", "page=99999999999", "q=%00", "q=" + strings.Repeat("x", 500)} {
		wantStatus(t, admin.get("/admin/users?"+q), http.StatusOK)
	}
	// Names are escaped on the admin page too.
	if strings.Contains(admin.get("/admin/users?q=%3Cscript%3E").body, "<script>") {
		t.Fatal("filter echoed unescaped")
	}
}
