package config

import (
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/mongo/options"
)

// TestMongoURIReplicaSets: a MONGO_URI that lists a replica set's hosts,
// each with or without its port, is accepted, by the configuration and by
// the driver alike (which parses it without connecting); net/url, which
// the configuration used before, refused the mixed form.
func TestMongoURIReplicaSets(t *testing.T) {
	for _, uri := range []string{
		"mongodb://m:27017",
		"mongodb://h1:27017,h2:27017,h3:27017/?replicaSet=rs0",
		"mongodb://h1:27017,h2/gatehouse?replicaSet=rs0",
		"mongodb://gatehouse:s%40cret@h1,h2,h3/?replicaSet=rs0&authSource=admin&w=majority",
		"mongodb://[::1]:27017,[::1]:27018/?replicaSet=rs0",
		"mongodb://mongos1:27017,mongos2:27017/",
	} {
		c, err := Load(env(map[string]string{"APP_ENV": "production", "REDIS_URL": "redis://r:6379/0", "MONGO_URI": uri, "MAIL_ENABLED": "false"}))
		if err != nil {
			t.Errorf("%s: %v", uri, err)
			continue
		}
		if err := options.Client().ApplyURI(c.MongoURI).Validate(); err != nil {
			t.Errorf("%s: accepted here, refused by the driver: %v", uri, err)
		}
	}
	// mongodb+srv:// is accepted without a DNS lookup (the driver does
	// one when it connects).
	if _, err := Load(env(map[string]string{"MONGO_URI": "mongodb+srv://u:p@cluster0.example.net/?retryWrites=true"})); err != nil {
		t.Errorf("mongodb+srv: %v", err)
	}
	for _, uri := range []string{
		"postgres://x", "mongodb://", "mongodb://h1,,h2", "mongodb://h1:0", "mongodb://h1:65536",
		"mongodb://h1:", "mongodb://h 1", "mongodb+srv://a,b", "mongodb+srv://a:27017", "mongodb://[::1",
		"h1:27017",
	} {
		_, err := Load(env(map[string]string{"MONGO_URI": uri}))
		if err == nil || !strings.Contains(err.Error(), "MONGO_URI") {
			t.Errorf("%q: got %v, want an error about MONGO_URI", uri, err)
		}
	}
}

// TestMongoURIRedacted: the configuration line never shows a MongoDB
// password, in any form of connection string.
func TestMongoURIRedacted(t *testing.T) {
	for uri, want := range map[string]string{
		"mongodb://gatehouse:s3cret@h1:27017,h2/?replicaSet=rs0": "mongodb://gatehouse:xxxxx@h1:27017,h2/?replicaSet=rs0",
		"mongodb://a%40b:p%3Aw@h1/db":                            "mongodb://a%40b:xxxxx@h1/db",
		"mongodb://u:p:q@h1":                                     "mongodb://u:xxxxx@h1",
		"mongodb://onlyuser@h1":                                  "mongodb://onlyuser@h1",
		"mongodb+srv://u:s3cret@c.example.net":                   "mongodb+srv://u:xxxxx@c.example.net",
		"nonsense u:s3cret@h":                                    "(unparsable)",
	} {
		if got := redactMongoURI(uri); got != want {
			t.Errorf("redact %q: got %q, want %q", uri, got, want)
		}
	}
	c, err := Load(env(map[string]string{"MONGO_URI": "mongodb://u:s3cret@h1:27017,h2/?replicaSet=rs0"}))
	if err != nil {
		t.Fatal(err)
	}
	if s := c.String(); strings.Contains(s, "s3cret") || !strings.Contains(s, "h1:27017,h2") {
		t.Errorf("config line %q", s)
	}
}
