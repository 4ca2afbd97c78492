package mongo

import (
	"errors"
	"fmt"
	"testing"

	"go.mongodb.org/mongo-driver/mongo"
)

// TestIsDuplicate: the shapes of a unique-index violation that MongoDB and
// FerretDB answer, and errors that are not one.
func TestIsDuplicate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"insert on MongoDB", mongo.WriteException{WriteErrors: []mongo.WriteError{{Code: 11000}}}, true},
		{"command error 11000", mongo.CommandError{Code: 11000}, true},
		{"wrapped", fmt.Errorf("update: %w", mongo.CommandError{Code: 11000}), true},
		{"update on FerretDB with SQLite", mongo.CommandError{Code: 1, Name: "InternalError",
			Message: "[msg_update.go:133 handler.(*Handler).updateDocument] constraint failed: UNIQUE constraint failed: index 'users_5e7cc513_username_skeleton_unique' (2067)"}, true},
		{"update on FerretDB with PostgreSQL", mongo.CommandError{Code: 1, Name: "InternalError",
			Message: `ERROR: duplicate key value violates unique constraint "users_username_skeleton_unique" (SQLSTATE 23505)`}, true},
		{"another internal error", mongo.CommandError{Code: 1, Name: "InternalError", Message: "disk I/O error"}, false},
		{"another command error", mongo.CommandError{Code: 2, Name: "BadValue", Message: "UNIQUE constraint failed"}, false},
		{"not a driver error", errors.New("duplicate key"), false},
	}
	for _, tt := range tests {
		if got := isDuplicate(tt.err); got != tt.want {
			t.Errorf("%s: isDuplicate(%v) = %v, want %v", tt.name, tt.err, got, tt.want)
		}
	}
}
