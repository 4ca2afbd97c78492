package config

import (
	"errors"
	"strconv"
	"strings"
)

// A MongoDB connection string (MongoDB's "Connection String URI Format"
// specification) is not a URL: it may list several hosts, each with its
// own port ("mongodb://a:27017,b,c:27018/?replicaSet=rs0"), which
// net/url refuses. checkMongoURI and redactMongoURI read it as the
// specification does, without the network: mongodb+srv:// names a DNS
// record that the driver resolves when it connects.

// mongoURIParts splits s into its scheme, its user information ("" when
// none) and its hosts, and checks their shape: a known scheme, at least
// one host, ports from 1 to 65535, and for mongodb+srv:// exactly one host
// without a port.
func mongoURIParts(s string) (scheme, userinfo string, hosts []string, err error) {
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok || (scheme != "mongodb" && scheme != "mongodb+srv") {
		return "", "", nil, errors.New("not mongodb:// or mongodb+srv://")
	}
	authority := rest
	if i := strings.IndexAny(rest, "/?"); i >= 0 {
		authority = rest[:i]
	}
	if i := strings.LastIndexByte(authority, '@'); i >= 0 {
		userinfo, authority = authority[:i], authority[i+1:]
	}
	if authority == "" {
		return "", "", nil, errors.New("no host")
	}
	hosts = strings.Split(authority, ",")
	for _, h := range hosts {
		if err := checkMongoHost(h); err != nil {
			return "", "", nil, err
		}
	}
	if scheme == "mongodb+srv" && (len(hosts) != 1 || strings.Contains(strings.TrimPrefix(hosts[0], "["), ":")) {
		return "", "", nil, errors.New("mongodb+srv:// takes one host name without a port")
	}
	return scheme, userinfo, hosts, nil
}

// checkMongoHost accepts host, host:port, [IPv6] and [IPv6]:port.
func checkMongoHost(h string) error {
	host, port := h, ""
	if strings.HasPrefix(h, "[") {
		end := strings.IndexByte(h, ']')
		if end < 0 {
			return errors.New("unclosed [ in a host")
		}
		host, port = h[:end+1], strings.TrimPrefix(h[end+1:], ":")
		if h[end+1:] != "" && !strings.HasPrefix(h[end+1:], ":") {
			return errors.New("bad host")
		}
	} else if i := strings.LastIndexByte(h, ':'); i >= 0 {
		host, port = h[:i], h[i+1:]
		if port == "" {
			return errors.New("empty port")
		}
	}
	if host == "" || strings.ContainsAny(host, " \t\r\n/?#@") {
		return errors.New("bad host")
	}
	if port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return errors.New("bad port")
		}
	}
	return nil
}

// redactMongoURI returns s with its password replaced by "xxxxx", as
// url.URL's Redacted does (the user name stays as written), or "(unparsable)" when s is not a connection
// string (which could hold a password anywhere).
func redactMongoURI(s string) string {
	if s == "" {
		return "(embedded)"
	}
	_, userinfo, _, err := mongoURIParts(s)
	if err != nil {
		return "(unparsable)"
	}
	user, _, hasPassword := strings.Cut(userinfo, ":")
	if !hasPassword {
		return s
	}
	i := strings.Index(s, "://") + 3
	return s[:i] + user + ":xxxxx@" + s[i+len(userinfo)+1:]
}
