package tiles

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"time"

	"github.com/paulmach/orb"
	"github.com/paulmach/orb/project"
)

// Face is one source polygon of a build, in Web Mercator metres. Base faces are bureau
// contours (ID the bureau key) and, for communes without bureau contours, their IRIS
// (ID empty); IRIS faces carry the IRIS code, name and type.
type Face struct {
	ID      string
	Commune string // INSEE code; the city code for Paris, Lyon and Marseille
	Dept    string
	Circo   string // 9213, when results say which circonscription the bureau is in
	Name    string
	Kind    string
	Geom    orb.MultiPolygon
}

// BuiltFeature is one feature of a layer at one band, ready to store; names and
// registered voters are filled in by the store from the reference tables.
type BuiltFeature struct {
	Band   int
	ID     string
	Name   string
	Parent string
	Kind   string
	Geom   orb.MultiPolygon
	Enc    []byte // Geom as EncodeGeometry stores it for Band
}

// BuiltLayer is a layer's full content, replaced at once. A layer with Refresh set
// carries no features: the store keeps its stored geometry and refills its attributes
// (names, registered voters) from the reference tables.
type BuiltLayer struct {
	Name     string
	Sources  map[string]string // the data versions it was built from
	Features []BuiltFeature
	Refresh  bool
}

// BuildStore is what a build reads and writes; *postgres.DB satisfies it.
type BuildStore interface {
	// TileBuildState returns the current data versions ("kind:contours" → "12.1") and,
	// per built layer, the versions it was built from; current includes CircoSource.
	TileBuildState(ctx context.Context) (current map[string]string, built map[string]map[string]string, err error)
	BaseFaces(ctx context.Context, fn func(Face) error) error
	IrisFaces(ctx context.Context, fn func(Face) error) error
	// ReplaceTileLayers swaps the layers' features in one transaction (a Refresh layer
	// keeping its stored geometry) and bumps the version of each layer whose content
	// changed.
	ReplaceTileLayers(ctx context.Context, layers []BuiltLayer) error
	// ReplaceTileCells rebuilds the carreaux layer from the grid cells of the newest
	// vintage, each cell (WGS84) stored as encode returns it with its Web Mercator
	// bounds, and records sources; it returns the number of cells.
	ReplaceTileCells(ctx context.Context, sources map[string]string, encode func(orb.MultiPolygon) ([]byte, orb.Bound)) (int64, error)
}

// CircoSource is the current-version key of the circonscription each bureau contour of
// the newest vintage is in (a hash of the pairs): the only part of the results that
// shapes geometry, since results can name a bureau's circonscription.
const CircoSource = "circo:bureaux"

// layerSources are the data each built layer depends on: its geometry sources, whose
// change rebuilds its geometry, and its attribute sources, whose change only refreshes
// the stored features' attributes (registered voters of the last round) in SQL. The
// four base layers share one topology, so they share their geometry sources.
var layerSources = map[string]struct{ geometry, attributes []string }{
	"departements":     {[]string{"kind:contours", "kind:iris", "kind:communes", CircoSource}, []string{"kind:results"}},
	"circonscriptions": {[]string{"kind:contours", CircoSource}, []string{"kind:results"}},
	"communes":         {[]string{"kind:contours", "kind:iris", "kind:communes", CircoSource}, []string{"kind:results"}},
	"bureaux":          {[]string{"kind:contours", "kind:communes", CircoSource}, []string{"kind:results"}},
	"iris":             {[]string{"kind:iris", "kind:census"}, nil},
	"carreaux":         {[]string{"kind:grid"}, nil},
}

// Builder precomputes the generalised geometry of every layer.
type Builder struct {
	Store  BuildStore
	Logger *slog.Logger
}

// BuildReport says what a build did.
type BuildReport struct {
	Layers    map[string]int `json:"layers"`              // features per rebuilt layer (all bands)
	Refreshed []string       `json:"refreshed,omitempty"` // attributes refreshed, geometry kept
	Skipped   []string       `json:"skipped,omitempty"`
	Seconds   float64        `json:"seconds"`
}

// Build rebuilds the layers whose sources changed since their last build, or all of
// them with force. It is what `coopol tiles build` runs, and what an ingestion calls
// once its load has committed.
func (b *Builder) Build(ctx context.Context, force bool) (*BuildReport, error) {
	start := time.Now()
	log := b.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	current, built, err := b.Store.TileBuildState(ctx)
	if err != nil {
		return nil, err
	}
	rep := &BuildReport{Layers: map[string]int{}}
	todo := map[string]map[string]string{}
	var out []BuiltLayer
	for name, ls := range layerSources {
		geom := map[string]string{}
		for _, k := range ls.geometry {
			geom[k] = current[k]
		}
		// A change of the layer's bands (a new release) must rebuild it too.
		geom["bands"] = fmt.Sprint(mustLayer(name).Bands)
		geom["format"] = geomFormat
		src := maps.Clone(geom)
		for _, k := range ls.attributes {
			src[k] = current[k]
		}
		prev, ok := built[name]
		switch {
		case ok && !force && maps.Equal(prev, src):
			rep.Skipped = append(rep.Skipped, name)
		case ok && !force && len(ls.attributes) > 0 && sameGeometry(prev, geom):
			rep.Refreshed = append(rep.Refreshed, name)
			out = append(out, BuiltLayer{Name: name, Sources: src, Refresh: true})
		default:
			todo[name] = src
		}
	}
	slices.Sort(rep.Skipped)
	slices.Sort(rep.Refreshed)
	if len(todo) == 0 && len(out) == 0 {
		rep.Seconds = time.Since(start).Seconds()
		return rep, nil
	}
	needBase := false
	for _, n := range []string{"departements", "circonscriptions", "communes", "bureaux"} {
		if todo[n] != nil {
			needBase = true
		}
	}
	if needBase {
		var faces []Face
		if err := b.Store.BaseFaces(ctx, func(f Face) error { faces = append(faces, f); return nil }); err != nil {
			return nil, err
		}
		log.InfoContext(ctx, "tiles: base faces read", "faces", len(faces), "seconds", time.Since(start).Seconds())
		for _, l := range buildBase(faces) {
			if src := todo[l.Name]; src != nil {
				l.Sources = src
				out = append(out, l)
			}
		}
	}
	if src := todo["iris"]; src != nil {
		var faces []Face
		if err := b.Store.IrisFaces(ctx, func(f Face) error { faces = append(faces, f); return nil }); err != nil {
			return nil, err
		}
		log.InfoContext(ctx, "tiles: iris faces read", "faces", len(faces), "seconds", time.Since(start).Seconds())
		l := buildIris(faces)
		l.Sources = src
		out = append(out, l)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("tiles: build: %w", err)
	}
	for _, l := range out {
		for i := range l.Features {
			f := &l.Features[i]
			f.Enc = EncodeGeometry(f.Geom, f.Band)
		}
	}
	if len(out) > 0 {
		log.InfoContext(ctx, "tiles: generalised", "seconds", time.Since(start).Seconds())
		if err := b.Store.ReplaceTileLayers(ctx, out); err != nil {
			return nil, err
		}
		log.InfoContext(ctx, "tiles: stored", "seconds", time.Since(start).Seconds())
	}
	for _, l := range out {
		if !l.Refresh {
			rep.Layers[l.Name] = len(l.Features)
		}
	}
	if src := todo["carreaux"]; src != nil {
		n, err := b.Store.ReplaceTileCells(ctx, src, EncodeCell)
		if err != nil {
			return nil, err
		}
		rep.Layers["carreaux"] = int(n)
	}
	rep.Seconds = time.Since(start).Seconds()
	log.InfoContext(ctx, "tiles: built", "layers", rep.Layers, "refreshed", rep.Refreshed, "skipped", rep.Skipped, "seconds", rep.Seconds)
	return rep, nil
}

// sameGeometry reports whether a layer was built from the geometry sources it has now.
func sameGeometry(prev, geom map[string]string) bool {
	for k, v := range geom {
		if w, ok := prev[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// EncodeCell returns a grid cell (WGS84) as stored for CellBand, and its Web Mercator
// bounds.
func EncodeCell(mp orb.MultiPolygon) ([]byte, orb.Bound) {
	project.MultiPolygon(mp, project.WGS84.ToMercator)
	return EncodeGeometry(mp, CellBand), mp.Bound()
}

// groupIndex numbers the distinct non-empty keys of faces.
func groupIndex(faces []Face, key func(Face) string) (group []int, names []string, first []int) {
	idx := map[string]int{}
	group = make([]int, len(faces))
	for i, f := range faces {
		k := key(f)
		if k == "" {
			group[i] = -1
			continue
		}
		g, ok := idx[k]
		if !ok {
			g = len(names)
			idx[k] = g
			names = append(names, k)
			first = append(first, i)
		}
		group[i] = g
	}
	return group, names, first
}

type layerShape struct {
	layer  Layer
	ids    []string
	parent []string
	polys  [][]topoPolygon
}

func (s layerShape) rings() []checkedRing {
	var rs []checkedRing
	for _, ps := range s.polys {
		for _, p := range ps {
			for k, r := range p {
				rs = append(rs, checkedRing{refs: r, shell: k == 0})
			}
		}
	}
	return rs
}

// buildBase builds bureaux, communes, circonscriptions and départements from one
// topology of the base faces, so that all four share their borders at every band.
func buildBase(faces []Face) []BuiltLayer {
	geoms := make([]orb.MultiPolygon, len(faces))
	for i, f := range faces {
		geoms[i] = f.Geom
	}
	topo, polys := buildTopology(geoms)

	var shapes []layerShape
	bureaux := layerShape{layer: mustLayer("bureaux")}
	for i, f := range faces {
		if f.ID != "" && len(polys[i]) > 0 {
			bureaux.ids = append(bureaux.ids, f.ID)
			bureaux.parent = append(bureaux.parent, f.Commune)
			bureaux.polys = append(bureaux.polys, polys[i])
		}
	}
	shapes = append(shapes, bureaux)
	for _, d := range []struct {
		layer       string
		key, parent func(Face) string
	}{
		{"communes", func(f Face) string { return f.Commune }, func(f Face) string { return f.Dept }},
		{"circonscriptions", func(f Face) string { return f.Circo }, func(f Face) string { return f.Dept }},
		{"departements", func(f Face) string { return f.Dept }, func(Face) string { return "" }},
	} {
		group, names, first := groupIndex(faces, d.key)
		s := layerShape{layer: mustLayer(d.layer), ids: names, polys: topo.dissolve(polys, group, len(names))}
		for _, i := range first {
			s.parent = append(s.parent, d.parent(faces[i]))
		}
		shapes = append(shapes, s)
	}
	return generalise(topo, shapes)
}

// buildIris builds the IRIS layer from its own topology: IRIS and bureaux come from
// different sources and share no vertices.
func buildIris(faces []Face) BuiltLayer {
	geoms := make([]orb.MultiPolygon, len(faces))
	for i, f := range faces {
		geoms[i] = f.Geom
	}
	topo, polys := buildTopology(geoms)
	s := layerShape{layer: mustLayer("iris")}
	var names, kinds []string
	for i, f := range faces {
		if len(polys[i]) > 0 {
			s.ids = append(s.ids, f.ID)
			s.parent = append(s.parent, f.Commune)
			s.polys = append(s.polys, polys[i])
			names = append(names, f.Name)
			kinds = append(kinds, f.Kind)
		}
	}
	l := generalise(topo, []layerShape{s})[0]
	for i := range l.Features {
		k := i % len(s.ids) // features are written band by band, in s.ids order
		l.Features[i].Name, l.Features[i].Kind = names[k], kinds[k]
	}
	return l
}

// generalise simplifies the topology once per band and rebuilds every layer using
// that band from the same simplified arcs.
func generalise(topo *topology, shapes []layerShape) []BuiltLayer {
	out := make([]BuiltLayer, len(shapes))
	bands := map[int]bool{}
	for i, s := range shapes {
		out[i].Name = s.layer.Name
		for _, b := range s.layer.Bands {
			bands[b] = true
		}
	}
	for _, band := range slices.Sorted(maps.Keys(bands)) {
		var rings []checkedRing
		for _, s := range shapes {
			if slices.Contains(s.layer.Bands, band) {
				rings = append(rings, s.rings()...)
			}
		}
		arcs := topo.generalised(Tolerance(band), rings)
		for i, s := range shapes {
			if !slices.Contains(s.layer.Bands, band) {
				continue
			}
			for k, id := range s.ids {
				out[i].Features = append(out[i].Features, BuiltFeature{
					Band: band, ID: id, Parent: s.parent[k], Geom: multiPolygonOf(s.polys[k], arcs),
				})
			}
		}
	}
	return out
}

func mustLayer(name string) Layer {
	l, err := LayerByName(name)
	if err != nil {
		panic(err)
	}
	return l
}
