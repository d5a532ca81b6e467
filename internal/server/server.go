// Package server is coopol's HTTP surface: the router, the handlers, and the one place
// where error kinds become HTTP status codes.
package server

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"log/slog"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"github.com/coopol/coopol/internal/auth"
	"github.com/coopol/coopol/internal/errs"
	"github.com/coopol/coopol/internal/ingest"
	"github.com/coopol/coopol/internal/postgres"
)

// Store is what the handlers need from storage; *postgres.DB satisfies it.
type Store interface {
	Ping(ctx context.Context) error
	Datasets(ctx context.Context, history bool) ([]postgres.Dataset, error)
	DatasetWarnings(ctx context.Context, datasetID int64) ([]ingest.Warning, error)
}

// Deps holds what the server is built from.
type Deps struct {
	Logger *slog.Logger
	Store  Store
	Web    fs.FS // static files of the web app

	// Members serves accounts, members, territories and the audit log; without it
	// those routes are not mounted.
	Members    Members
	Hasher     *auth.Hasher  // argon2id, with a bound on concurrent hashes
	Throttle   auth.Throttle // attempt limits of login, erasure, reset, sign-up; zero means auth.DefaultThrottle
	TrustProxy bool          // take the client IP from X-Forwarded-For (behind a reverse proxy)
	BaseURL    string        // public URL of the app, for links in e-mails
	MailDir    string        // the development sender's .eml directory, purged on erasure ("" with SMTP)

	// Tiles serves vector tiles and indicator values; without it those routes are
	// not mounted.
	Tiles TileService

	// Cross serves bureau profiles, crosstabs, targeting and exports; without it those
	// routes are not mounted. They need Members too (sign-in, audit).
	Cross CrossService
}

// New returns the handler of the whole service.
func New(d Deps) http.Handler {
	if d.Throttle == (auth.Throttle{}) {
		d.Throttle = auth.DefaultThrottle()
	}
	if d.Hasher == nil {
		d.Hasher = auth.NewHasher(auth.DefaultParams(), 4)
	}
	r := chi.NewRouter()
	r.Use(middleware.RequestID, middleware.Recoverer)
	r.Use(middleware.Compress(5, compressedTypes...))
	addRoutes(r, d)
	return r
}

// respondJSON writes v as JSON with status.
func respondJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// respondError maps err to a status; 5xx details are logged, never sent.
func respondError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	status := statusOf(err)
	msg := err.Error()
	if status >= 500 {
		log.ErrorContext(r.Context(), "request failed", "path", r.URL.Path, "err", err,
			"request_id", middleware.GetReqID(r.Context()))
		msg = http.StatusText(status)
	}
	respondJSON(w, status, map[string]string{"error": msg})
}

// statusOf is the only switch over error kinds.
func statusOf(err error) int {
	switch {
	case errors.Is(err, errs.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, errs.ErrInvalid):
		return http.StatusBadRequest
	case errors.Is(err, errs.ErrConflict):
		return http.StatusConflict
	case errors.Is(err, errs.ErrUnauthorized):
		return http.StatusUnauthorized
	case errors.Is(err, auth.ErrThrottled): // before ErrForbidden, which it wraps
		return http.StatusTooManyRequests
	case errors.Is(err, errs.ErrForbidden):
		return http.StatusForbidden
	case errors.Is(err, context.DeadlineExceeded):
		return http.StatusGatewayTimeout
	}
	return http.StatusInternalServerError
}

func handleHealthz(store Store) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := store.Ping(ctx); err != nil {
			respondJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "database unavailable"})
			return
		}
		respondJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	}
}
