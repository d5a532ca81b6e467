package server

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/coopol/coopol/internal/errs"
	"github.com/coopol/coopol/internal/tiles"
	tilefiles "github.com/coopol/coopol/tiles"
)

// TileService is what the tile and indicator handlers need; *tiles.Engine satisfies it.
type TileService interface {
	Tile(ctx context.Context, layer string, z, x, y int) (*tiles.Tile, error)
	TileJSON(ctx context.Context, layer, base string) ([]byte, string, error)
	Indicator(ctx context.Context, q tiles.IndicatorQuery) (*tiles.Tile, error)
	Catalogue(ctx context.Context) (*tiles.IndicatorCatalogue, error)
}

// tileTimeout bounds a tile request; a tile slower than this is a bug to look at.
const tileTimeout = 10 * time.Second

func addTileRoutes(r chi.Router, d Deps) {
	r.Get("/tiles/style.json", handleStyle())
	r.Get("/tiles/{layer}.json", handleTileJSON(d.Logger, d.Tiles))
	r.Get("/tiles/{layer}/{z}/{x}/{y}.mvt", handleTile(d.Logger, d.Tiles))
	r.Get("/api/indicators", handleIndicatorCatalogue(d.Logger, d.Tiles))
	r.Get("/api/indicators/{layer}", handleIndicator(d.Logger, d.Tiles))
	if d.Web != nil {
		r.Get("/carte", func(w http.ResponseWriter, r *http.Request) {
			http.ServeFileFS(w, r, d.Web, "map.html")
		})
	}
}

// baseURL is the server's own URL as the client reached it: TileJSON and the style
// must give MapLibre absolute URLs.
func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https" {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// writeGzipped sends a cached gzipped body, decompressing it for the rare client that
// does not accept gzip, and answers 304 when the client already holds this version.
func writeGzipped(w http.ResponseWriter, r *http.Request, t *tiles.Tile, contentType, cacheControl string) {
	h := w.Header()
	h.Set("ETag", t.ETag)
	h.Set("Cache-Control", cacheControl)
	h.Set("Vary", "Accept-Encoding")
	if inm := r.Header.Get("If-None-Match"); inm != "" && etagMatch(inm, t.ETag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Type", contentType)
	if len(t.Gzip) == 0 {
		h.Set("Content-Length", "0")
		w.WriteHeader(http.StatusOK)
		return
	}
	if strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
		h.Set("Content-Encoding", "gzip")
		h.Set("Content-Length", strconv.Itoa(len(t.Gzip)))
		w.WriteHeader(http.StatusOK)
		w.Write(t.Gzip)
		return
	}
	zr, err := gzip.NewReader(bytes.NewReader(t.Gzip))
	if err != nil {
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	h.Set("Content-Length", strconv.Itoa(t.Raw))
	w.WriteHeader(http.StatusOK)
	io.Copy(w, zr)
}

func etagMatch(header, etag string) bool {
	for _, p := range strings.Split(header, ",") {
		p = strings.TrimSpace(p)
		if p == etag || p == "*" {
			return true
		}
	}
	return false
}

func handleTile(log *slog.Logger, svc TileService) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		z, x, y, err := tiles.ParseTile(r.PathValue("z"), r.PathValue("x"), r.PathValue("y"))
		if err != nil {
			respondError(w, r, log, err)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), tileTimeout)
		defer cancel()
		t, err := svc.Tile(ctx, r.PathValue("layer"), z, x, y)
		if err != nil {
			respondError(w, r, log, err)
			return
		}
		// A URL naming the current version (as TileJSON gives them) never changes
		// content: browsers keep it. Any other URL is revalidated, cheaply, by ETag.
		cc := "public, max-age=0, must-revalidate"
		if v := r.URL.Query().Get("v"); v != "" && v == t.Version {
			cc = "public, max-age=31536000, immutable"
		}
		writeGzipped(w, r, t, "application/vnd.mapbox-vector-tile", cc)
	}
}

func handleTileJSON(log *slog.Logger, svc TileService) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		b, etag, err := svc.TileJSON(r.Context(), r.PathValue("layer"), baseURL(r))
		if err != nil {
			respondError(w, r, log, err)
			return
		}
		w.Header().Set("ETag", etag)
		w.Header().Set("Cache-Control", "no-cache") // the tile URLs inside change with the data
		if etagMatch(r.Header.Get("If-None-Match"), etag) {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Write(b)
	}
}

// handleStyle serves the MapLibre style of the preview map with this server's URL.
func handleStyle() http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		w.Write(bytes.ReplaceAll(tilefiles.Style, []byte("{base}"), []byte(baseURL(r))))
	}
}

func handleIndicator(log *slog.Logger, svc TileService) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		iq := tiles.IndicatorQuery{Layer: r.PathValue("layer"), Indicator: q.Get("indicator"), Election: q.Get("election"), Dept: q.Get("dept")}
		if iq.Indicator == "" {
			iq.Indicator = "abstention"
		}
		if s := q.Get("round"); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || (n != 1 && n != 2) {
				respondError(w, r, log, fmt.Errorf("round %q: want 1 or 2: %w", s, errs.ErrInvalid))
				return
			}
			iq.Round = n
		}
		for _, v := range []struct {
			param string
			to    *int
		}{{"vintage", &iq.Vintage}, {"from", &iq.From}} {
			if s := q.Get(v.param); s != "" {
				n, err := strconv.Atoi(s)
				if err != nil || n < 1900 || n > 2100 {
					respondError(w, r, log, fmt.Errorf("%s %q: want a year: %w", v.param, s, errs.ErrInvalid))
					return
				}
				*v.to = n
			}
		}
		ctx, cancel := context.WithTimeout(r.Context(), tileTimeout)
		defer cancel()
		t, err := svc.Indicator(ctx, iq)
		if err != nil {
			respondError(w, r, log, err)
			return
		}
		writeGzipped(w, r, t, "application/json; charset=utf-8", "public, max-age=0, must-revalidate")
	}
}

func handleIndicatorCatalogue(log *slog.Logger, svc TileService) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c, err := svc.Catalogue(r.Context())
		if err != nil {
			respondError(w, r, log, err)
			return
		}
		respondJSON(w, http.StatusOK, c)
	}
}
