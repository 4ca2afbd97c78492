package web_test

import (
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestAccessLog: one line per request with our own request id (a client's
// X-Request-Id is not taken: it would put unchecked text of any length in
// every log line), the route pattern, the status and the body's size.
func TestAccessLog(t *testing.T) {
	t.Parallel()
	a := newApp(t, newBackends(t), options{})
	b := newBrowser(t, a.URL)
	req, _ := http.NewRequest(http.MethodGet, a.URL+"/login", nil)
	req.Header.Set("X-Request-Id", "forged-"+strings.Repeat("x", 500))
	login := b.do(req)
	wantStatus(t, login, http.StatusOK)
	missing := b.get("/no-such-page")
	wantStatus(t, missing, http.StatusNotFound)

	line := regexp.MustCompile(`msg=request request_id=(\S+) ip=(\S+) method=GET route=(\S*) path=(\S+) status=(\d+) bytes=(\d+) `)
	idForm := regexp.MustCompile(`^[a-z2-7]{8}-\d{6,}$`)
	var got []string
	ids := map[string]bool{}
	for l := range strings.Lines(a.logs.String()) {
		m := line.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		if !idForm.MatchString(m[1]) {
			t.Errorf("request id %q: want 8 base32 characters, a dash and a counter", m[1])
		}
		if ids[m[1]] {
			t.Errorf("request id %q used twice", m[1])
		}
		ids[m[1]] = true
		got = append(got, strings.Join(m[2:], " "))
	}
	want := []string{
		"127.0.0.1 /login /login 200 " + strconv.Itoa(len(login.body)),
		`127.0.0.1 "" /no-such-page 404 ` + strconv.Itoa(len(missing.body)), // no route matched
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("access log (ip route path status bytes):\n%s\nwant\n%s\nlog:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"), a.logs.String())
	}
	if strings.Contains(a.logs.String(), "forged") {
		t.Error("the client's X-Request-Id reached the log")
	}
}
