package web

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/alexedwards/scs/v2"

	"github.com/gatehouse/gatehouse/internal/session"
)

// TestCurrentUserSurvivesRecordChange: a record handed out before the
// session's record changes keeps its values, and the next currentUser sees
// the change. Handlers hold the user across confirmPassword and signIn.
func TestCurrentUserSurvivesRecordChange(t *testing.T) {
	t.Parallel()
	sm := scs.New() // memory store: no Redis needed to hold values
	s := &sessions{sm: sm}
	ctx, err := sm.Load(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	ctx = withLoaded(ctx, &loaded{})
	r := httptest.NewRequest("GET", "/", nil).WithContext(ctx)

	s.setRecord(ctx, session.Record{UserID: "u1", Username: "ada", Role: "user"})
	before := currentUser(r)
	s.setRecord(ctx, session.Record{UserID: "u1", Username: "ada-renamed", Role: "admin"})
	after := currentUser(r)

	if before.Username != "ada" || before.IsAdmin() {
		t.Errorf("the earlier user changed under its holder: %+v", *before)
	}
	if after.Username != "ada-renamed" || !after.IsAdmin() {
		t.Errorf("current after the change: %+v", *after)
	}
	if stored, _ := sm.Get(ctx, keyRecord).(*session.Record); stored != after {
		t.Errorf("scs holds %+v, currentUser %+v", stored, after)
	}
}
