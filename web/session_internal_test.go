package web

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/alexedwards/scs/v2"

	"github.com/gatehouse/gatehouse/internal/session"
)

// TestCurrentUserSurvivesRecordChange: a *sessionUser handed out before the
// session's record changes keeps its values, and the next current sees the
// change. Handlers hold the user across confirmPassword and signIn.
func TestCurrentUserSurvivesRecordChange(t *testing.T) {
	sm := scs.New() // memory store: no Redis needed to hold values
	s := &sessions{sm: sm}
	ctx, err := sm.Load(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	ctx = context.WithValue(ctx, sessionLoadedKey, &requestState{})
	r := httptest.NewRequest("GET", "/", nil).WithContext(ctx)

	s.setRecord(ctx, session.Record{UserID: "u1", Username: "ada", Role: "user"})
	before := s.current(r)
	s.setRecord(ctx, session.Record{UserID: "u1", Username: "ada-renamed", Role: "admin"})
	after := s.current(r)
	s.facts(ctx) // a further read must not reuse the storage either

	if before.Username != "ada" || before.IsAdmin {
		t.Errorf("the earlier user changed under its holder: %+v", *before)
	}
	if after.Username != "ada-renamed" || !after.IsAdmin {
		t.Errorf("current after the change: %+v", *after)
	}
}
