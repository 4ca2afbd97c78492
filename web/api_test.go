package web_test

import (
	"net/http"
	"strings"
	"testing"
)

func TestJSONAPI(t *testing.T) {
	t.Parallel()
	a := newApp(t, newBackends(t), options{})
	b := newBrowser(t, a.URL)

	steps := []struct {
		name, method, path, body string
		status                   int
		key, want                string
	}{
		{"dashboard anonymous", "GET", "/api/dashboard", "", 401, "error", "Unauthorized"},
		{"register", "POST", "/auth/register", `{"username":"Erin","password":"password-1"}`, 201, "message", "User registered successfully"},
		{"register taken", "POST", "/auth/register", `{"username":"erin","password":"password-1"}`, 409, "error", "Choose another username: that one is taken"},
		{"register short password", "POST", "/auth/register", `{"username":"frank","password":"short"}`, 400, "error", "Enter a password of at least 8 characters"},
		{"register bad name", "POST", "/auth/register", `{"username":"a b","password":"password-1"}`, 400, "error", "In your username, use only letters, digits, dots (.), dashes (-) and underscores (_)"},
		{"login missing username", "POST", "/auth/login", `{"password":"password-1"}`, 400, "error", "Enter a username"},
		{"login missing password", "POST", "/auth/login", `{"username":"erin"}`, 400, "error", "Enter a password"},
		{"login operator injection", "POST", "/auth/login", `{"username":{"$ne":null},"password":"x"}`, 400, "error", "Field username must be a string"},
		{"login number", "POST", "/auth/login", `{"username":"erin","password":12345678}`, 400, "error", "Field password must be a string"},
		{"login unknown field", "POST", "/auth/login", `{"username":"erin","password":"password-1","admin":true}`, 400, "error", "Request body must be a JSON object with string fields username and password"},
		{"login trailing data", "POST", "/auth/login", `{"username":"erin","password":"password-1"} {}`, 400, "error", "Request body must be a JSON object with string fields username and password"},
		{"login not json", "POST", "/auth/login", `username=erin`, 400, "error", "Request body must be a JSON object with string fields username and password"},
		{"login array", "POST", "/auth/login", `["erin"]`, 400, "error", "Request body must be a JSON object with string fields username and password"},
		{"login wrong password", "POST", "/auth/login", `{"username":"erin","password":"wrong-pass"}`, 401, "error", "Check your username and password: they do not match an account"},
		{"login unknown user", "POST", "/auth/login", `{"username":"nobody","password":"wrong-pass"}`, 401, "error", "Check your username and password: they do not match an account"},
		{"login", "POST", "/auth/login", `{"username":"ERIN","password":"password-1"}`, 200, "message", "Welcome, Erin!"},
		{"dashboard", "GET", "/api/dashboard", "", 200, "message", "Welcome Erin"},
		{"logout", "POST", "/auth/logout", "", 200, "message", "Logged out successfully"},
		{"dashboard after logout", "GET", "/api/dashboard", "", 401, "error", "Unauthorized"},
	}
	for _, s := range steps {
		var r response
		if s.method == "GET" {
			r = b.get(s.path)
		} else {
			r = b.postJSON(s.path, s.body)
		}
		if r.StatusCode != s.status {
			t.Fatalf("%s: got %d, want %d; body %s", s.name, r.StatusCode, s.status, r.body)
		}
		m := jsonBody(t, r)
		if got := m[s.key]; got != s.want {
			t.Fatalf("%s: got %s=%v, want %q", s.name, s.key, got, s.want)
		}
		if s.name == "dashboard" {
			u, _ := m["user"].(map[string]any)
			if u["username"] != "Erin" || u["role"] != "user" || u["id"] == "" {
				t.Fatalf("dashboard user: got %v", u)
			}
			if _, ok := u["password_hash"]; ok {
				t.Fatal("the API leaks the password hash")
			}
		}
		if s.name == "logout" {
			if c := setCookie(r, cookieName); c == nil || c.MaxAge >= 0 {
				t.Fatalf("logout did not clear the cookie: %+v", c)
			}
		}
	}
}

func TestJSONNeedsContentType(t *testing.T) {
	t.Parallel()
	a := newApp(t, newBackends(t), options{})
	req, _ := http.NewRequest(http.MethodPost, a.URL+"/auth/login", strings.NewReader(`{"username":"a","password":"b"}`))
	req.Header.Set("Content-Type", "text/plain")
	r := newBrowser(t, a.URL).do(req)
	wantStatus(t, r, http.StatusUnsupportedMediaType)
	if m := jsonBody(t, r); m["error"] == "" {
		t.Fatal("no error message")
	}
}

func TestCORS(t *testing.T) {
	t.Parallel()
	const allowed = "https://app.example.test"
	a := newApp(t, newBackends(t), options{cors: []string{allowed}})
	for _, tt := range []struct {
		origin string
		want   string
	}{
		{allowed, allowed},
		{"https://evil.example.test", ""},
	} {
		req, _ := http.NewRequest(http.MethodOptions, a.URL+"/auth/login", nil)
		req.Header.Set("Origin", tt.origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "content-type")
		r := newBrowser(t, a.URL).do(req)
		if got := r.Header.Get("Access-Control-Allow-Origin"); got != tt.want {
			t.Errorf("preflight from %s: got Allow-Origin %q, want %q", tt.origin, got, tt.want)
		}
		if tt.want != "" && r.Header.Get("Access-Control-Allow-Credentials") != "true" {
			t.Errorf("preflight from %s: credentials not allowed", tt.origin)
		}

		// The real cross-origin POST: allowed origins pass the CSRF check.
		req, _ = http.NewRequest(http.MethodPost, a.URL+"/auth/login", strings.NewReader(`{"username":"nobody","password":"password-1"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Origin", tt.origin)
		req.Header.Set("Sec-Fetch-Site", "cross-site")
		r = newBrowser(t, a.URL).do(req)
		want := http.StatusUnauthorized
		if tt.want == "" {
			want = http.StatusForbidden
		}
		if r.StatusCode != want {
			t.Errorf("POST from %s: got %d, want %d", tt.origin, r.StatusCode, want)
		}
	}
}
