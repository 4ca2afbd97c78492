package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// rawGetter sends one fixed GET request again and again on one keep-alive
// connection and reads each response with as little work as it can: the
// status line, the Content-Length, Transfer-Encoding, Connection and
// Set-Cookie headers, and the body, which it discards.
//
// It is the sustained scenarios' client instead of net/http's, as wrk is
// for others. The load generator shares two cores with the servers it
// measures, and net/http's client parses every response header into a map:
// it would charge a page with a dozen security headers more of the
// generator's CPU than the floor's two, and report that as the page's cost.
type rawGetter struct {
	addr string // host:port
	req  []byte // the whole request, sent as it is
	conn net.Conn
	r    *bufio.Reader
}

// newRawGetter prepares a GET of rawURL (http only) with one Cookie header.
func newRawGetter(rawURL, cookie string) (*rawGetter, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, err
	}
	if u.Scheme != "http" || u.Host == "" {
		return nil, fmt.Errorf("raw client: %q: only http://host:port/path URLs", rawURL)
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: gatehouse-bench\r\n", u.RequestURI(), u.Host)
	if cookie != "" {
		fmt.Fprintf(&b, "Cookie: %s\r\n", cookie)
	}
	b.WriteString("\r\n")
	return &rawGetter{addr: u.Host, req: b.Bytes()}, nil
}

// clone returns a getter for the same request with a connection of its own.
func (g *rawGetter) clone() *rawGetter { return &rawGetter{addr: g.addr, req: g.req} }

var errMalformed = errors.New("raw client: malformed response")

// do sends the request, dialling first when it has no connection, and reads
// the whole response. On any error it drops the connection, so the next
// call starts afresh.
func (g *rawGetter) do(ctx context.Context) sample {
	s, keep, err := g.roundTrip(ctx)
	if err != nil {
		g.close()
		return sample{}
	}
	if !keep {
		g.close()
	}
	return s
}

func (g *rawGetter) roundTrip(ctx context.Context) (s sample, keep bool, err error) {
	if g.conn == nil {
		d := net.Dialer{Timeout: 5 * time.Second}
		if g.conn, err = d.DialContext(ctx, "tcp", g.addr); err != nil {
			return s, false, err
		}
		g.r = bufio.NewReaderSize(g.conn, 16<<10)
	}
	// A response slower than this is an error, not a latency to record.
	if err := g.conn.SetDeadline(time.Now().Add(30 * time.Second)); err != nil {
		return s, false, err
	}
	if _, err := g.conn.Write(g.req); err != nil {
		return s, false, err
	}
	return readResponse(g.r)
}

// readResponse reads one HTTP/1.1 response to a GET from r.
func readResponse(r *bufio.Reader) (s sample, keep bool, err error) {
	line, err := r.ReadSlice('\n')
	if err != nil {
		return s, false, err
	}
	// "HTTP/1.1 200 OK\r\n"
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' {
		return s, false, errMalformed
	}
	if s.status, err = strconv.Atoi(string(line[9:12])); err != nil {
		return s, false, errMalformed
	}
	keep = line[7] == '1'
	length, chunked := -1, false
	for {
		line, err := r.ReadSlice('\n')
		if err != nil {
			return s, false, err
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			break
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return s, false, errMalformed
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			if length, err = strconv.Atoi(string(value)); err != nil || length < 0 {
				return s, false, errMalformed
			}
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			chunked = bytes.EqualFold(value, []byte("chunked"))
		case bytes.EqualFold(name, []byte("Connection")):
			if bytes.EqualFold(value, []byte("close")) {
				keep = false
			}
		case bytes.EqualFold(name, []byte("Set-Cookie")):
			s.setCookie = true
		}
	}
	switch {
	case s.status == http.StatusNoContent || s.status == http.StatusNotModified || s.status < 200:
		// No body, whatever the headers say (RFC 9112, section 6.3).
	case chunked:
		err = discardChunked(r)
	case length >= 0:
		_, err = r.Discard(length)
	default:
		// No length: the body runs to the end of the connection.
		_, err = io.Copy(io.Discard, r)
		keep = false
	}
	if err != nil {
		return s, false, err
	}
	return s, keep, nil
}

// discardChunked reads a chunked body and its trailers.
func discardChunked(r *bufio.Reader) error {
	for {
		line, err := r.ReadSlice('\n')
		if err != nil {
			return err
		}
		size, _, _ := bytes.Cut(bytes.TrimRight(line, "\r\n"), []byte(";"))
		n, err := strconv.ParseInt(string(bytes.TrimSpace(size)), 16, 64)
		if err != nil || n < 0 {
			return errMalformed
		}
		if n == 0 {
			break
		}
		if _, err := r.Discard(int(n) + 2); err != nil { // the chunk and its CRLF
			return err
		}
	}
	for { // trailers, up to the blank line
		line, err := r.ReadSlice('\n')
		if err != nil {
			return err
		}
		if len(bytes.TrimRight(line, "\r\n")) == 0 {
			return nil
		}
	}
}

func (g *rawGetter) close() {
	if g.conn != nil {
		g.conn.Close()
		g.conn, g.r = nil, nil
	}
}
