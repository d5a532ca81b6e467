package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/coopol/coopol/internal/auth"
	"github.com/coopol/coopol/internal/errs"
)

// Cookie and header names of browser sessions.
const (
	sessionCookie = "coopol_session"
	csrfCookie    = "coopol_csrf"
	csrfHeader    = "X-CSRF-Token"
)

// authenticate puts the caller in the request context: an API token from
// "Authorization: Bearer", else a session cookie. A bad bearer token is refused at
// once (a script should fail loudly); a stale cookie just leaves the caller anonymous.
func authenticate(log *slog.Logger, ms Members) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if h := r.Header.Get("Authorization"); h != "" {
				tok, ok := strings.CutPrefix(h, "Bearer ")
				if !ok || !auth.IsAPIToken(tok) {
					respondError(w, r, log, fmt.Errorf("authorization: bearer API token expected: %w", errs.ErrUnauthorized))
					return
				}
				m, err := ms.TokenMember(r.Context(), auth.HashToken(tok))
				if err != nil {
					respondError(w, r, log, err)
					return
				}
				next.ServeHTTP(w, r.WithContext(auth.WithMember(r.Context(), m)))
				return
			}
			if c, err := r.Cookie(sessionCookie); err == nil && c.Value != "" {
				m, err := ms.SessionMember(r.Context(), auth.HashToken(c.Value))
				switch {
				case err == nil:
					r = r.WithContext(auth.WithMember(r.Context(), m))
				case !errors.Is(err, errs.ErrUnauthorized):
					respondError(w, r, log, err)
					return
				}
			}
			next.ServeHTTP(w, r)
		})
	}
}

// crossOrigin refuses state-changing requests sent from another site, by the
// Sec-Fetch-Site and Origin headers browsers add (http.CrossOriginProtection). It
// covers anonymous endpoints too: a forged login would sign a victim into the
// attacker's account.
func crossOrigin(log *slog.Logger) func(http.Handler) http.Handler {
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		respondError(w, r, log, fmt.Errorf("cross-origin request refused: %w", errs.ErrForbidden))
	}))
	return cop.Handler
}

// csrfToken makes cookie-authenticated mutations echo the session's token in
// X-CSRF-Token, for browsers too old to send Sec-Fetch-Site or Origin. API tokens are
// exempt: browsers never attach them on their own. Login and sign-up are not under it:
// they do not act with the current session's authority, and a stale cookie must not
// stop anyone from logging in.
func csrfToken(log *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			m := auth.MemberFrom(r.Context())
			if m != nil && m.Method == auth.MethodSession && !safeMethod(r.Method) {
				c, err := r.Cookie(sessionCookie)
				if err != nil || !auth.CheckCSRF(c.Value, r.Header.Get(csrfHeader)) {
					respondError(w, r, log, fmt.Errorf("missing or wrong %s header: %w", csrfHeader, errs.ErrForbidden))
					return
				}
			}
			next.ServeHTTP(w, r)
		})
	}
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// requireMember refuses anonymous callers.
func requireMember(log *slog.Logger) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if auth.MemberFrom(r.Context()) == nil {
				respondError(w, r, log, fmt.Errorf("sign in first: %w", errs.ErrUnauthorized))
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// noStore keeps personal data out of browser and proxy caches.
func noStore(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		next.ServeHTTP(w, r)
	})
}

// clientIP is the address login throttling and the audit log record. Behind a reverse
// proxy (trustProxy) it is the last X-Forwarded-For entry, the one the proxy added;
// earlier entries are the client's to forge.
func clientIP(r *http.Request, trustProxy bool) string {
	if trustProxy {
		if xff := r.Header.Get("X-Forwarded-For"); xff != "" {
			parts := strings.Split(xff, ",")
			if ip := net.ParseIP(strings.TrimSpace(parts[len(parts)-1])); ip != nil {
				return ip.String()
			}
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// isTLS reports whether the browser reached us over HTTPS, directly or through a proxy,
// so cookies get the Secure flag.
func isTLS(r *http.Request) bool {
	return r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

// maxBody bounds JSON request bodies: none of ours needs more.
const maxBody = 64 << 10

// decodeJSON reads one JSON value into v, refusing unknown fields, trailing data,
// bodies over maxBody and NUL characters (PostgreSQL text cannot hold them, so they
// would surface as a 500); every failure is ErrInvalid.
func decodeJSON(body io.Reader, v any) error {
	b, err := io.ReadAll(io.LimitReader(body, maxBody+1))
	if err != nil {
		return fmt.Errorf("request body: %v: %w", err, errs.ErrInvalid)
	}
	if len(b) > maxBody {
		return fmt.Errorf("request body over %d bytes: %w", maxBody, errs.ErrInvalid)
	}
	if bytes.Contains(b, []byte(`\u0000`)) {
		return fmt.Errorf("request body: NUL character: %w", errs.ErrInvalid)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("request body: %v: %w", err, errs.ErrInvalid)
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("request body: trailing data: %w", errs.ErrInvalid)
	}
	return nil
}

// queryText reads a free-text query parameter, refusing NUL and overlong values.
func queryText(r *http.Request, name string, maxLen int) (string, error) {
	v := r.URL.Query().Get(name)
	if len(v) > maxLen || strings.ContainsRune(v, 0) || !utf8.ValidString(v) {
		return "", fmt.Errorf("%s: at most %d characters of text: %w", name, maxLen, errs.ErrInvalid)
	}
	return v, nil
}
