package session

import (
	"testing"
	"time"
)

var testPolicy = Policy{
	Lifetime: 24 * time.Hour, RememberLifetime: 30 * 24 * time.Hour,
	IdleTimeout: 30 * time.Minute, TouchInterval: time.Minute, ReauthWindow: 10 * time.Minute,
}

func TestPolicyWithDefaults(t *testing.T) {
	t.Parallel()
	got := Policy{IdleTimeout: time.Hour, TouchInterval: -1}.WithDefaults()
	want := Policy{Lifetime: 24 * time.Hour, RememberLifetime: 30 * 24 * time.Hour,
		IdleTimeout: time.Hour, TouchInterval: time.Minute, ReauthWindow: 10 * time.Minute}
	if got != want {
		t.Fatalf("got %+v, want %+v", got, want)
	}
}

func TestPolicyCheck(t *testing.T) {
	t.Parallel()
	signIn := time.Date(2026, 11, 29, 8, 0, 0, 0, time.UTC)
	tests := []struct {
		name     string
		remember bool
		seen     time.Duration // after sign-in
		now      time.Duration // after sign-in
		want     Verdict
		expires  time.Duration // ExpiresAt, after sign-in
	}{
		{"just signed in", false, 0, 0, Live, 30 * time.Minute},
		{"within the touch interval", false, 0, 59 * time.Second, Live, 30 * time.Minute},
		{"touch due", false, 0, time.Minute, TouchDue, 30 * time.Minute},
		{"idle one nanosecond short", false, 0, 30*time.Minute - 1, TouchDue, 30 * time.Minute},
		{"idle", false, 0, 30 * time.Minute, ExpiredIdle, 30 * time.Minute},
		{"seen lately, not idle", false, 23 * time.Hour, 23*time.Hour + 2*time.Minute, TouchDue, 23*time.Hour + 30*time.Minute},
		{"absolute end", false, 23*time.Hour + 59*time.Minute, 24 * time.Hour, ExpiredAbsolute, 24 * time.Hour},
		{"absolute end wins over idle", false, 0, 24 * time.Hour, ExpiredAbsolute, 30 * time.Minute},
		{"remembered: no idle timeout", true, 0, 20 * 24 * time.Hour, TouchDue, 30 * 24 * time.Hour},
		{"remembered: absolute end", true, 0, 30 * 24 * time.Hour, ExpiredAbsolute, 30 * 24 * time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &Record{UserID: "u", AuthAt: signIn, Seen: signIn.Add(tt.seen), Remember: tt.remember}
			if got := testPolicy.Check(r, signIn.Add(tt.now)); got != tt.want {
				t.Errorf("Check: got %v, want %v", got, tt.want)
			}
			if got, want := testPolicy.ExpiresAt(r), signIn.Add(tt.expires); !got.Equal(want) {
				t.Errorf("ExpiresAt: got %v, want %v", got, want)
			}
			if got := testPolicy.Check(r, signIn.Add(tt.now)).Expired(); got != (tt.want == ExpiredIdle || tt.want == ExpiredAbsolute) {
				t.Errorf("Expired: got %v for %v", got, tt.want)
			}
		})
	}
}

func TestPolicyTouchedIsLiveAgain(t *testing.T) {
	t.Parallel()
	signIn := time.Date(2026, 11, 29, 8, 0, 0, 0, time.UTC)
	r := &Record{UserID: "u", AuthAt: signIn, Seen: signIn}
	now := signIn.Add(20 * time.Minute)
	if got := testPolicy.Check(r, now); got != TouchDue {
		t.Fatalf("before the touch: got %v, want %v", got, TouchDue)
	}
	touched := r.Touched(now.In(time.FixedZone("X", 3600)))
	if got := testPolicy.Check(&touched, now); got != Live {
		t.Fatalf("after the touch: got %v, want %v", got, Live)
	}
	if !r.Seen.Equal(signIn) {
		t.Fatal("Touched changed the record it was called on")
	}
	if touched.Seen.Location() != time.UTC {
		t.Fatalf("Touched: Seen in %v, want UTC", touched.Seen.Location())
	}
}

func TestPolicyRecentlyAuthenticated(t *testing.T) {
	t.Parallel()
	signIn := time.Date(2026, 11, 29, 8, 0, 0, 0, time.UTC)
	r := &Record{UserID: "u", AuthAt: signIn, Seen: signIn}
	for _, tt := range []struct {
		name string
		rec  Record
		now  time.Duration
		want bool
	}{
		{"right after sign-in", *r, 9 * time.Minute, true},
		{"window over", *r, 10 * time.Minute, false},
		{"confirmed again", r.Reauthenticated(signIn.Add(time.Hour), MethodPassword), time.Hour + 5*time.Minute, true},
		{"confirmation too old", r.Reauthenticated(signIn.Add(time.Hour), MethodPassword), time.Hour + 11*time.Minute, false},
	} {
		if got := testPolicy.RecentlyAuthenticated(&tt.rec, signIn.Add(tt.now)); got != tt.want {
			t.Errorf("%s: got %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestRecordRoles(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		rec             Record
		signedIn, admin bool
	}{
		{Record{}, false, false},
		{Record{UserID: "u", Role: "user"}, true, false},
		{Record{UserID: "u", Role: "admin"}, true, true},
	} {
		if got := tt.rec.SignedIn(); got != tt.signedIn {
			t.Errorf("%+v: SignedIn got %v, want %v", tt.rec, got, tt.signedIn)
		}
		if got := tt.rec.IsAdmin(); got != tt.admin {
			t.Errorf("%+v: IsAdmin got %v, want %v", tt.rec, got, tt.admin)
		}
	}
}
