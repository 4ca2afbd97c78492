package main

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// TestRawGetter checks the bench's raw client against net/http's server:
// each kind of body framing, Set-Cookie, and that it reuses one connection
// unless the server closes it.
func TestRawGetter(t *testing.T) {
	t.Parallel()
	var conns atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("/length", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Cookie") != "a=b" {
			http.Error(w, "no cookie", http.StatusUnauthorized)
			return
		}
		_, _ = w.Write([]byte("hello"))
	})
	mux.HandleFunc("/chunked", func(w http.ResponseWriter, r *http.Request) {
		for range 3 {
			_, _ = w.Write([]byte(strings.Repeat("x", 5000)))
			w.(http.Flusher).Flush()
		}
	})
	mux.HandleFunc("/cookie", func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "s", Value: "v"})
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("/close", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "close")
		w.WriteHeader(http.StatusTeapot)
	})
	srv := httptest.NewUnstartedServer(mux)
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)

	tests := []struct {
		path, cookie string
		wantStatus   int
		wantCookie   bool
		wantConns    int32 // new connections after three requests
	}{
		{"/length", "a=b", http.StatusOK, false, 1},
		{"/length", "", http.StatusUnauthorized, false, 1},
		{"/chunked", "", http.StatusOK, false, 1},
		{"/cookie", "", http.StatusNoContent, true, 1},
		{"/close", "", http.StatusTeapot, false, 3},
	}
	for _, tt := range tests {
		t.Run(tt.path+"_"+tt.cookie, func(t *testing.T) {
			g, err := newRawGetter(srv.URL+tt.path, tt.cookie)
			if err != nil {
				t.Fatal(err)
			}
			w := g.clone()
			defer w.close()
			before := conns.Load()
			for i := range 3 {
				s := w.do(context.Background())
				if s.status != tt.wantStatus || s.setCookie != tt.wantCookie {
					t.Fatalf("request %d: got status %d, Set-Cookie %v; want %d, %v", i, s.status, s.setCookie, tt.wantStatus, tt.wantCookie)
				}
			}
			if got := conns.Load() - before; got != tt.wantConns {
				t.Errorf("got %d new connections for 3 requests, want %d", got, tt.wantConns)
			}
		})
	}
}

func TestReadResponseMalformed(t *testing.T) {
	t.Parallel()
	for _, in := range []string{
		"HTTP/1.1 2x0 OK\r\n\r\n",
		"SSH-2.0-OpenSSH\r\n",
		"HTTP/1.1 200 OK\r\nno colon\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
	} {
		if s, _, err := readResponse(bufio.NewReader(strings.NewReader(in))); err == nil {
			t.Errorf("readResponse(%q): got status %d and no error, want an error", in, s.status)
		}
	}
}

func TestNewRawGetterRejects(t *testing.T) {
	t.Parallel()
	for _, u := range []string{"https://127.0.0.1:1/", "127.0.0.1:1/x", "http:///x"} {
		if _, err := newRawGetter(u, ""); err == nil {
			t.Errorf("newRawGetter(%q): got no error, want one", u)
		}
	}
}
