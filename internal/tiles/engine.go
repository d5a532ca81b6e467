package tiles

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coopol/coopol/internal/errs"
)

// Store is what the engine reads; *postgres.DB satisfies it.
type Store interface {
	// TileFeatures calls fn for each stored feature of the query's layers, each at its
	// band, whose box meets the tile grown by the margin, with Feature.Layer set to the
	// layer's index in the query; one round trip for a composite tile.
	TileFeatures(ctx context.Context, q FeatureQuery, fn func(*Feature) error) error
	// TileCells does the same for the grid cells (carreaux) of the last build.
	TileCells(ctx context.Context, q FeatureQuery, fn func(*Feature) error) error
	// DataVersions returns a version per data source: "tiles:bureaux" → "7",
	// "kind:results" → "42.3" (newest current dataset id, number of current datasets).
	DataVersions(ctx context.Context) (map[string]string, error)
	Indicator(ctx context.Context, q IndicatorQuery) (map[string]float64, error)
	// TileBounds returns the lon/lat box of the built layers, ok false before any build.
	TileBounds(ctx context.Context) (bounds [4]float64, ok bool, err error)
	IndicatorCatalogue(ctx context.Context) (*IndicatorCatalogue, error)
}

// Options tune an engine.
type Options struct {
	CacheBytes int64         // bound of the in-process cache; default 256 MiB
	VersionTTL time.Duration // how long a read of the data versions is trusted; default 200 ms
	Logger     *slog.Logger
}

// Engine serves tiles and indicator values from the store through the cache.
type Engine struct {
	store Store
	cache *cache
	log   *slog.Logger

	ttl    time.Duration
	vmu    sync.Mutex
	vAt    time.Time
	vals   map[string]string
	vReads int64
}

// NewEngine returns an engine reading store.
func NewEngine(store Store, o Options) *Engine {
	if o.CacheBytes <= 0 {
		o.CacheBytes = 256 << 20
	}
	if o.VersionTTL == 0 {
		o.VersionTTL = 200 * time.Millisecond
	}
	if o.VersionTTL < 0 {
		o.VersionTTL = 0
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return &Engine{store: store, cache: newCache(o.CacheBytes), log: o.Logger, ttl: o.VersionTTL}
}

// versions returns the data versions, read from the store at most once per TTL: one
// small query per TTL however many tiles are served, and a commit is seen within the
// TTL.
func (e *Engine) versions(ctx context.Context) (map[string]string, error) {
	e.vmu.Lock()
	defer e.vmu.Unlock()
	if e.vals != nil && time.Since(e.vAt) < e.ttl {
		return e.vals, nil
	}
	v, err := e.store.DataVersions(ctx)
	if err != nil {
		return nil, err
	}
	e.vals, e.vAt = v, time.Now()
	e.vReads++
	return v, nil
}

// Invalidate forgets the versions read, so the next request reads them again: for a
// process that has just committed a load itself.
func (e *Engine) Invalidate() {
	e.vmu.Lock()
	e.vals = nil
	e.vmu.Unlock()
}

// LayerVersion returns the data version a layer's tiles are made from.
func (e *Engine) LayerVersion(ctx context.Context, name string) (string, error) {
	v, err := e.versions(ctx)
	if err != nil {
		return "", err
	}
	return layerVersion(v, name)
}

func layerVersion(v map[string]string, name string) (string, error) {
	switch name {
	case Composite:
		parts := make([]string, len(compositeLayers))
		for i, n := range compositeLayers {
			parts[i] = v["tiles:"+n]
		}
		return strings.Join(parts, "."), nil
	}
	if _, err := LayerByName(name); err != nil {
		return "", err
	}
	return v["tiles:"+name], nil
}

// Tile returns tile z/x/y of a layer, from the cache when its version is current.
func (e *Engine) Tile(ctx context.Context, layer string, z, x, y int) (*Tile, error) {
	version, err := e.LayerVersion(ctx, layer)
	if err != nil {
		return nil, err
	}
	key := layer + "/" + strconv.Itoa(z) + "/" + strconv.Itoa(x) + "/" + strconv.Itoa(y)
	return e.cache.do(key, version, func() (*Tile, error) {
		raw, err := e.render(ctx, layer, z, x, y)
		if err != nil {
			return nil, err
		}
		t := &Tile{Raw: len(raw), Version: version, ETag: `"` + layer + "-" + version + `"`}
		if len(raw) > 0 {
			t.Gzip = gzipBytes(raw)
		}
		return t, nil
	})
}

// Render renders a tile without the cache, uncompressed: for benchmarks and tests.
func (e *Engine) Render(ctx context.Context, layer string, z, x, y int) ([]byte, error) {
	if layer != Composite {
		if _, err := LayerByName(layer); err != nil {
			return nil, err
		}
	}
	return e.render(ctx, layer, z, x, y)
}

// CacheStats returns the entries and bytes in the cache.
func (e *Engine) CacheStats() (entries int, bytes int64) { return e.cache.stats() }

// TileJSON returns the TileJSON 3.0 document of a layer; base is the server's URL
// ("http://127.0.0.1:8080"). Tile URLs carry the data version, so a browser may keep
// them for good: new data means new URLs.
func (e *Engine) TileJSON(ctx context.Context, layer, base string) ([]byte, string, error) {
	version, err := e.LayerVersion(ctx, layer)
	if err != nil {
		return nil, "", err
	}
	var names []string
	if layer == Composite {
		names = compositeLayers
	} else {
		names = []string{layer}
	}
	type vectorLayer struct {
		ID          string            `json:"id"`
		Description string            `json:"description"`
		MinZoom     int               `json:"minzoom"`
		MaxZoom     int               `json:"maxzoom"`
		Fields      map[string]string `json:"fields"`
	}
	doc := struct {
		TileJSON     string        `json:"tilejson"`
		Name         string        `json:"name"`
		Version      string        `json:"version"`
		Scheme       string        `json:"scheme"`
		Tiles        []string      `json:"tiles"`
		MinZoom      int           `json:"minzoom"`
		MaxZoom      int           `json:"maxzoom"`
		Bounds       []float64     `json:"bounds"`
		Attribution  string        `json:"attribution"`
		VectorLayers []vectorLayer `json:"vector_layers"`
	}{
		TileJSON: "3.0.0", Name: "coopol " + layer, Version: "1.0.0", Scheme: "xyz",
		Tiles:       []string{base + "/tiles/" + layer + "/{z}/{x}/{y}.mvt?v=" + version},
		MinZoom:     22,
		Bounds:      []float64{-180, -85.0511, 180, 85.0511}, // until a build says where the data are
		Attribution: "Contours : Etalab, INSEE, ministère de l'Intérieur",
	}
	// The data's own box: a map opens on the loaded territory, not on the whole world.
	if b, ok, err := e.store.TileBounds(ctx); err != nil {
		return nil, "", err
	} else if ok {
		doc.Bounds = b[:]
	}
	for _, n := range names {
		l, _ := LayerByName(n)
		doc.MinZoom = min(doc.MinZoom, l.MinZoom)
		doc.MaxZoom = max(doc.MaxZoom, l.MaxZoom)
		doc.VectorLayers = append(doc.VectorLayers, vectorLayer{ID: l.Name, Description: l.Title, MinZoom: l.MinZoom, MaxZoom: l.MaxZoom, Fields: l.Fields})
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return nil, "", fmt.Errorf("tiles: tilejson: %w", err)
	}
	return b, `"` + layer + "-" + version + `"`, nil
}

// IndicatorQuery asks for one indicator's value on every feature of a layer.
type IndicatorQuery struct {
	Layer     string // bureaux, communes, circonscriptions, departements, iris
	Indicator string // abstention, participation, inscrits, blancs_nuls, nuance:RN, panel:4, census:P21_POP, share:no_diploma, change:no_diploma
	Election  string // lg2024; empty: the last loaded
	Round     int    // 1 or 2; 0: the last loaded
	Dept      string // only features of this département, optional
	Vintage   int    // census vintage of census: and share: indicators, the later one of change:; 0: the latest loaded
	From      int    // earlier census vintage of change:; 0: the earliest loaded
}

// indicatorSources are the data each family of indicators is computed from.
var indicatorSources = map[string][]string{
	"results": {"kind:results"},
	"census":  {"kind:census", "kind:iris"},
	// Shares of bureaux go through the latest IRIS weights, recomputed after these loads.
	"census_share": {"kind:census", "kind:iris", "kind:contours", "kind:grid", "apportion:iris"},
}

func indicatorFamily(ind string) (string, error) {
	switch {
	case slices.Contains([]string{"abstention", "participation", "inscrits", "blancs_nuls"}, ind),
		strings.HasPrefix(ind, "nuance:"), strings.HasPrefix(ind, "panel:"):
		return "results", nil
	case strings.HasPrefix(ind, "census:"):
		return "census", nil
	case strings.HasPrefix(ind, "share:"), strings.HasPrefix(ind, "change:"):
		return "census_share", nil
	}
	return "", fmt.Errorf("tiles: indicator %q: %w", ind, errs.ErrInvalid)
}

// Indicator returns {feature id: value} as gzipped JSON, cached under the versions of
// the data it is computed from, so switching indicators never refetches geometry and
// a new load changes its ETag.
func (e *Engine) Indicator(ctx context.Context, q IndicatorQuery) (*Tile, error) {
	fam, err := indicatorFamily(q.Indicator)
	if err != nil {
		return nil, err
	}
	v, err := e.versions(ctx)
	if err != nil {
		return nil, err
	}
	var parts []string
	for _, s := range indicatorSources[fam] {
		parts = append(parts, v[s])
	}
	version := strings.Join(parts, ".")
	key := fmt.Sprintf("indicator/%s/%s/%s/%d/%s/%d/%d", q.Layer, q.Indicator, q.Election, q.Round, q.Dept, q.Vintage, q.From)
	return e.cache.do(key, version, func() (*Tile, error) {
		vals, err := e.store.Indicator(ctx, q)
		if err != nil {
			return nil, err
		}
		raw, err := json.Marshal(vals)
		if err != nil {
			return nil, fmt.Errorf("tiles: indicator: %w", err)
		}
		h := sha256.Sum256(raw)
		return &Tile{Gzip: gzipBytes(raw), Raw: len(raw), Version: version, ETag: `"` + hex.EncodeToString(h[:12]) + `"`}, nil
	})
}

// IndicatorCatalogue lists what can be shown: elections loaded, nuances, census variables.
type IndicatorCatalogue struct {
	Elections []ElectionRound     `json:"elections"`
	Nuances   map[string][]string `json:"nuances"` // "lg2024/1" → nuances
	Census    []string            `json:"census"`
	// Shares are the census shares (share:KEY, change:KEY) with the vintages loaded for each.
	Shares []CensusShareEntry `json:"shares"`
}

// CensusShareEntry is a census share of the catalogue and the vintages it can be mapped
// for: share:KEY&vintage=V for one of them, change:KEY&from=A&vintage=B between two.
type CensusShareEntry struct {
	Key      string `json:"key"`
	Label    string `json:"label"`
	Theme    string `json:"theme"`
	Note     string `json:"note,omitempty"`
	Vintages []int  `json:"vintages"`
}

// ElectionRound is one loaded election round.
type ElectionRound struct {
	Election string `json:"election"`
	Round    int    `json:"round"`
}

// Catalogue returns the indicator catalogue.
func (e *Engine) Catalogue(ctx context.Context) (*IndicatorCatalogue, error) {
	return e.store.IndicatorCatalogue(ctx)
}
