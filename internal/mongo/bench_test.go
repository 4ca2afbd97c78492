package mongo_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/internal/password"
	"github.com/gatehouse/gatehouse/internal/user"
)

// BenchmarkAuthenticateEnumeration compares a failed login for an existing
// user (wrong password) with one for an unknown user (dummy hash), with the
// production argon2id parameters and a real FerretDB. The two must cost the
// same, or response times would reveal which usernames exist. Compare the
// medians of -count runs, e.g.:
//
//	go test -run '^$' -bench AuthenticateEnumeration -benchtime 40x ./internal/mongo
//
// Each iteration makes one attempt of each kind.
func BenchmarkAuthenticateEnumeration(b *testing.B) {
	users := newUsers(b)
	h, err := password.New(password.OWASP)
	if err != nil {
		b.Fatal(err)
	}
	svc := user.NewService(users, h, time.Now)
	ctx := context.Background()
	if _, err := svc.Register(ctx, "existing", "password-1"); err != nil {
		b.Fatal(err)
	}
	attempt := func(username string) time.Duration {
		start := time.Now()
		if _, err := svc.Authenticate(ctx, username, "not-the-password"); !errors.Is(err, user.ErrInvalidCredentials) {
			b.Fatal(err)
		}
		return time.Since(start)
	}
	// Paired and interleaved, alternating which goes first, so that noise
	// from a shared machine hits both alike.
	var known, unknown []time.Duration
	i := 0
	for b.Loop() {
		if i%2 == 0 {
			known = append(known, attempt("existing"))
			unknown = append(unknown, attempt("nobody"))
		} else {
			unknown = append(unknown, attempt("nobody"))
			known = append(known, attempt("existing"))
		}
		i++
	}
	mk, mu := median(known), median(unknown)
	b.ReportMetric(float64(mk.Microseconds()), "wrong-password-median-µs")
	b.ReportMetric(float64(mu.Microseconds()), "unknown-user-median-µs")
	b.ReportMetric(float64(mu)/float64(mk), "unknown/wrong-ratio")
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	return s[len(s)/2]
}
