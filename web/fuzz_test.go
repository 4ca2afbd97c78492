package web

// Fuzz targets for everything that parses outside input: JSON bodies,
// forms and session cookies. They run the real handlers and middleware
// with an in-memory session store and in-process doubles for the user
// service and limiter, so that the fuzzer reaches millions of inputs
// rather than the hundreds a real Redis and MongoDB would allow; the
// handler tests cover the real servers.

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/alexedwards/scs/v2/memstore"

	"github.com/gatehouse/gatehouse/internal/redis"
	"github.com/gatehouse/gatehouse/internal/session"
	"github.com/gatehouse/gatehouse/internal/user"
	"github.com/gatehouse/gatehouse/templates"
)

// fuzzUsers knows one user, "known" with password "password-1", and
// registers nobody (every name is taken), without hashing.
type fuzzUsers struct{}

func (fuzzUsers) Register(_ context.Context, username, password string) (*user.User, error) {
	if _, err := user.NormalizeUsername(username); err != nil {
		return nil, err
	}
	if err := user.ValidatePassword(password); err != nil {
		return nil, err
	}
	return nil, user.ErrUsernameTaken
}

func (fuzzUsers) Authenticate(_ context.Context, username, password string) (*user.User, error) {
	if norm, err := user.NormalizeUsername(username); err == nil && norm == "known" && password == "password-1" {
		return &user.User{ID: "0123456789abcdef01234567", Username: "known", Role: user.RoleUser}, nil
	}
	return nil, user.ErrInvalidCredentials
}

func (fuzzUsers) ByID(context.Context, string) (*user.User, error) { return nil, user.ErrNotFound }
func (fuzzUsers) CheckPassword(context.Context, string, string) error {
	return user.ErrWrongPassword
}
func (fuzzUsers) ChangePassword(context.Context, string, string, string) error {
	return user.ErrWrongPassword
}
func (fuzzUsers) SetRole(context.Context, string, user.Role) (*user.User, error) {
	return nil, user.ErrNotFound
}
func (fuzzUsers) SetDisabled(context.Context, string, bool) (*user.User, error) {
	return nil, user.ErrNotFound
}
func (fuzzUsers) SetPassword(context.Context, string, string) error { return user.ErrNotFound }
func (fuzzUsers) SignOutEverywhere(context.Context, string) (*user.User, error) {
	return nil, user.ErrNotFound
}
func (fuzzUsers) List(context.Context, string, int, int) ([]*user.User, int64, error) {
	return nil, 0, nil
}

// zeroCounter counts nothing: every window is empty.
type zeroCounter struct{}

func (zeroCounter) Incr(context.Context, string) (int64, error) { return 0, nil }
func (zeroCounter) Window() time.Duration                       { return time.Hour }

// openLimiter admits every attempt.
type openLimiter struct{}

func (openLimiter) Begin(context.Context, string, string) (redis.Decision, error) {
	return redis.Decision{}, nil
}
func (openLimiter) BeginDevice(context.Context, string) (redis.Decision, error) {
	return redis.Decision{}, nil
}
func (openLimiter) Succeeded(context.Context, redis.Attempt) error { return nil }
func (openLimiter) Abandon(context.Context, redis.Attempt) error   { return nil }

// noIndex is a session index that records nothing.
type noIndex struct{}

func (noIndex) Add(context.Context, session.Info, string) error { return nil }
func (noIndex) Touch(context.Context, string, *session.Record, time.Time, time.Time) (session.TouchResult, error) {
	return session.TouchDone, nil
}
func (noIndex) SetToken(context.Context, string, string, string) error { return nil }
func (noIndex) List(context.Context, string) ([]session.Info, error)   { return nil, nil }
func (noIndex) Revoke(context.Context, string, string) (bool, error)   { return false, nil }
func (noIndex) RevokeAll(context.Context, string, string, session.EndReason) ([]string, error) {
	return nil, nil
}
func (noIndex) Remove(context.Context, string, string) error                { return nil }
func (noIndex) Trim(context.Context, string, string, int) ([]string, error) { return nil, nil }
func (noIndex) Counts(_ context.Context, ids []string) ([]int, error) {
	return make([]int, len(ids)), nil
}

// fuzzApp is the pieces the fuzzed handlers need, on in-memory doubles.
type fuzzApp struct {
	sess   *sessions
	rd     *renderer
	audit  *auditLog
	limits passwordLimits
}

func fuzzSetup(f *testing.F) fuzzApp {
	f.Helper()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	policy := session.Policy{TouchInterval: time.Hour, IdleTimeout: 2 * time.Hour, Lifetime: 24 * time.Hour}.WithDefaults()
	rd, err := newRenderer(templates.FS, false, logger, time.Now, policy)
	if err != nil {
		f.Fatal(err)
	}
	sm := scs.New()
	sm.Store = memstore.New()
	sm.Cookie.Name = "gatehouse_session"
	secret := func(context.Context) ([]byte, error) { return []byte("fuzzing key, 32 bytes long......"), nil }
	return fuzzApp{sess: newSessions(sm, noIndex{}, policy, 50, time.Now, logger, nil), rd: rd, audit: &auditLog{logger: logger},
		limits: passwordLimits{limiter: openLimiter{}, devices: newDeviceCookies(Cookie{Name: "gatehouse_session"}, secret, time.Now)}}
}

// serve runs h under the body limit and the session middleware, as routes
// does, and fails on any 5xx.
func (a fuzzApp) serve(t *testing.T, h http.Handler, req *http.Request) *httptest.ResponseRecorder {
	t.Helper()
	chain := recoverPanics(a.rd)(limitBody(maxBodyBytes, a.rd)(loadSession(a.sess, fuzzUsers{}, nil, a.rd)(h)))
	rec := httptest.NewRecorder()
	chain.ServeHTTP(rec, req)
	if rec.Code >= 500 {
		t.Fatalf("%s %s: got %d: %s", req.Method, req.URL, rec.Code, rec.Body.String())
	}
	return rec
}

// FuzzAPILogin: any body to POST /auth/login is answered with 200, 400,
// 401, 413 or 415, always as JSON.
func FuzzAPILogin(f *testing.F) {
	for _, s := range []string{
		`{"username":"known","password":"password-1"}`,
		`{"username":"known","password":"nope"}`,
		`{"username":{"$ne":null},"password":"x"}`,
		`{"username":"a","password":1}`,
		`{"username":"a","password":"b","x":1}`,
		`{"username":"a"} {}`, `[]`, `null`, `{`, ``, `"str"`,
	} {
		f.Add(s, "application/json")
	}
	f.Add(`{"username":"known","password":"password-1"}`, "text/plain")
	a := fuzzSetup(f)
	h := handleAPILogin(a.rd, a.sess, fuzzUsers{}, a.limits, a.audit, nil)
	f.Fuzz(func(t *testing.T, body, ctype string) {
		req := httptest.NewRequest(http.MethodPost, "/auth/login", strings.NewReader(body))
		req.Header.Set("Content-Type", ctype)
		rec := a.serve(t, h, req)
		switch rec.Code {
		case 200, 400, 401, 413, 415:
		default:
			t.Fatalf("body %q: got %d", body, rec.Code)
		}
		if !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
			t.Fatalf("body %q: got Content-Type %q", body, rec.Header().Get("Content-Type"))
		}
		if rec.Code == 200 && !strings.Contains(rec.Body.String(), "Welcome, known!") {
			t.Fatalf("body %q: 200 without the welcome", body)
		}
	})
}

// FuzzSignupForm: any form body to POST /signup is answered with 303,
// 400, 413 or 422, and nothing from the input reaches the page unescaped.
func FuzzSignupForm(f *testing.F) {
	for _, s := range []string{
		"username=alice&password=password-1&password_confirm=password-1",
		"username=alice&password=password-1&password_confirm=other",
		"username=%3Cscript%3E&password=x&password_confirm=x",
		"username=%zz&password=%%%",
		"username=a;b&password=p", "", "&&&=", "username=" + strings.Repeat("x", 200),
	} {
		f.Add(s)
	}
	a := fuzzSetup(f)
	h := handleSignupPost(a.rd, a.sess, fuzzUsers{}, nil, signupLimit{counter: zeroCounter{}, max: 1}, a.limits.devices, a.audit)
	f.Fuzz(func(t *testing.T, body string) {
		req := httptest.NewRequest(http.MethodPost, "/signup", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec := a.serve(t, h, req)
		switch rec.Code {
		case 303, 400, 413, 422:
		default:
			t.Fatalf("form %q: got %d", body, rec.Code)
		}
		if strings.Contains(strings.ToLower(withoutOwnScript(rec.Body.String())), "<script") {
			t.Fatalf("form %q: a script tag reached the page", body)
		}
	})
}

// FuzzSessionCookie: any cookie value leaves the visitor anonymous (the
// memory store holds no session), never a 5xx.
func FuzzSessionCookie(f *testing.F) {
	for _, s := range []string{"", "garbage", strings.Repeat("A", 43), strings.Repeat("A", 44), "%00", "a=b; c", strings.Repeat("z", 5000), "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="} {
		f.Add(s)
	}
	a := fuzzSetup(f)
	h := requireAuthentication(a.rd)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if currentUser(r) == nil {
			panic("requireAuthentication let an anonymous request through")
		}
	}))
	f.Fuzz(func(t *testing.T, value string) {
		req := httptest.NewRequest(http.MethodGet, "/dashboard", nil)
		req.Header.Set("Cookie", "gatehouse_session="+value)
		rec := a.serve(t, h, req)
		if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/login" {
			t.Fatalf("cookie %q: got %d %q, want 303 to /login", value, rec.Code, rec.Header().Get("Location"))
		}
	})
}

// FuzzForms: any body POSTed to the login form, the password form and a
// confirmation page's form (with its password) is answered with 200 (the
// confirmation page again), 303, 400, 413 or 422, never a 5xx, and nothing
// from the input reaches the page unescaped. The last two are posted with
// a signed-in session whose password is older than the reauthentication
// window. (FuzzSignupForm covers sign-up.)
func FuzzForms(f *testing.F) {
	for _, s := range []string{
		"username=known&password=password-1",
		"username=known&password=nope&remember=1",
		"current_password=a&new_password=password-2&new_password_confirm=password-2",
		"current_password=&new_password=x&new_password_confirm=y",
		"password=password-1&next=%2Fadmin%2Fusers",
		"password=x&next=https%3A%2F%2Fevil.example",
		"username=%3Cscript%3E&password=%3Cscript%3E",
		"%zz=%%%", "", "&&&=", "username=" + strings.Repeat("\u0301", 300),
	} {
		for form := range 3 {
			f.Add(uint8(form), s)
		}
	}
	a := fuzzSetup(f)
	// A signed-in session in the memory store, touched just now: with an
	// hour's touch interval, no request of the run rechecks its user.
	ctx, err := a.sess.sm.Load(context.Background(), "")
	if err != nil {
		f.Fatal(err)
	}
	now := time.Now().UTC()
	a.sess.sm.Put(ctx, keyRecord, &session.Record{UserID: "0123456789abcdef01234567", Username: "known",
		Role: "user", SID: "abcdefghijklmnopqrstuv", AuthAt: now.Add(-time.Hour), Seen: now})
	token, _, err := a.sess.sm.Commit(ctx)
	if err != nil {
		f.Fatal(err)
	}
	forms := []struct {
		path string
		h    http.Handler
	}{
		{"/login", handleLoginPost(a.rd, a.sess, fuzzUsers{}, a.limits, a.audit, nil)},
		{"/account/password", handlePasswordPost(a.rd, a.sess, fuzzUsers{}, a.limits, noIndex{}, a.audit, nil)},
		{"/account/sessions/revoke-others", handleSessionsRevokeOthersPost(a.rd, a.sess, fuzzUsers{}, a.limits, noIndex{}, a.audit, nil)},
	}
	f.Fuzz(func(t *testing.T, form uint8, body string) {
		target := forms[int(form)%len(forms)]
		req := httptest.NewRequest(http.MethodPost, target.path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if target.path != "/login" {
			req.AddCookie(&http.Cookie{Name: "gatehouse_session", Value: token})
		}
		rec := a.serve(t, target.h, req)
		switch rec.Code {
		case 200, 303, 400, 413, 422:
		default:
			t.Fatalf("POST %s %q: got %d", target.path, body, rec.Code)
		}
		if strings.Contains(strings.ToLower(withoutOwnScript(rec.Body.String())), "<script") {
			t.Fatalf("POST %s %q: a script tag reached the page", target.path, body)
		}
	})
}
