package postgres

import (
	"context"
	"crypto/md5"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/encoding/wkb"

	"github.com/coopol/coopol/internal/crosstab"
	"github.com/coopol/coopol/internal/errs"
	"github.com/coopol/coopol/internal/tiles"
)

// deptOf is the département of a commune code when the COG is not loaded: three
// characters overseas (971…989), two elsewhere (2A, 2B included).
const deptOf = `CASE WHEN left(%[1]s, 2) IN ('97', '98') THEN left(%[1]s, 3) ELSE left(%[1]s, 2) END`

// plmParent maps the arrondissements of Paris, Lyon and Marseille (IRIS use them) to
// the city code bureaux use.
const plmParent = `CASE WHEN %[1]s BETWEEN '75101' AND '75120' THEN '75056'
	WHEN %[1]s BETWEEN '69381' AND '69389' THEN '69123'
	WHEN %[1]s BETWEEN '13201' AND '13216' THEN '13055' ELSE %[1]s END`

const dataVersionsSQL = `SELECT 'tiles:' || layer, version::text FROM tile_layers
UNION ALL
SELECT 'kind:' || kind, max(id)::text || '.' || count(*)::text FROM datasets
WHERE superseded_at IS NULL GROUP BY kind
UNION ALL
SELECT 'apportion:' || source, max(id)::text FROM apportion_runs GROUP BY source
UNION ALL
SELECT 'data:' || name, version::text FROM data_versions`

// DataVersions returns the version of every data source tiles and indicators are made
// from: built tile layers, current datasets per kind (newest id and count, so a load
// and a removal both show), and other recorded sources.
func (db *DB) DataVersions(ctx context.Context) (map[string]string, error) {
	rows, err := db.pool.Query(ctx, dataVersionsSQL)
	if err != nil {
		return nil, fmt.Errorf("postgres: data versions: %w", err)
	}
	out := map[string]string{}
	var k, v string
	_, err = pgx.ForEachRow(rows, []any{&k, &v}, func() error { out[k] = v; return nil })
	if err != nil {
		return nil, fmt.Errorf("postgres: data versions: %w", err)
	}
	return out, nil
}

// BumpDataVersion records that a source other than a loaded file changed (a leaflet
// run, later). Callers that change such data in a transaction should run the same
// statement in it, so the bump commits with the change.
func (db *DB) BumpDataVersion(ctx context.Context, name string) error {
	_, err := db.pool.Exec(ctx, `INSERT INTO data_versions (name) VALUES ($1)
ON CONFLICT (name) DO UPDATE SET version = data_versions.version + 1, changed_at = now()`, name)
	if err != nil {
		return fmt.Errorf("postgres: bump data version %s: %w", name, err)
	}
	return nil
}

// tileCircoSQL hashes the circonscription of every bureau contour of the newest vintage
// as BaseFaces reads it (the contour's, else the newest results naming one): results
// change the base geometry only through these pairs. Results are read only for
// contours that name none.
const tileCircoSQL = `WITH c AS MATERIALIZED (SELECT code, circonscription FROM bureau_contours
	WHERE vintage = (SELECT max(vintage) FROM bureau_contours)),
circ AS (
	SELECT DISTINCT ON (bureau) bureau, circonscription FROM bureau_results
	WHERE circonscription IS NOT NULL AND bureau IN (SELECT code FROM c WHERE circonscription IS NULL)
	ORDER BY bureau, dataset_id DESC)
SELECT COALESCE(md5(string_agg(c.code || '=' || COALESCE(c.circonscription, circ.circonscription, ''), ',' ORDER BY c.code)), '')
FROM c LEFT JOIN circ ON circ.bureau = c.code`

// TileBuildState returns the current data versions, with the circonscriptions of the
// bureaux (tiles.CircoSource), and the sources each built layer was made from.
func (db *DB) TileBuildState(ctx context.Context) (map[string]string, map[string]map[string]string, error) {
	current, err := db.DataVersions(ctx)
	if err != nil {
		return nil, nil, err
	}
	var circo string
	if err := db.pool.QueryRow(ctx, tileCircoSQL).Scan(&circo); err != nil {
		return nil, nil, fmt.Errorf("postgres: tile circonscriptions: %w", err)
	}
	current[tiles.CircoSource] = circo
	rows, err := db.pool.Query(ctx, `SELECT layer, sources FROM tile_layers`)
	if err != nil {
		return nil, nil, fmt.Errorf("postgres: tile layers: %w", err)
	}
	built := map[string]map[string]string{}
	var layer string
	var src map[string]string
	_, err = pgx.ForEachRow(rows, []any{&layer, &src}, func() error { built[layer] = src; return nil })
	if err != nil {
		return nil, nil, fmt.Errorf("postgres: tile layers: %w", err)
	}
	return current, built, nil
}

var baseFacesSQL = `WITH v AS (SELECT max(vintage) AS vintage FROM bureau_contours),
circ AS (
	SELECT DISTINCT ON (bureau) bureau, circonscription FROM bureau_results
	WHERE circonscription IS NOT NULL ORDER BY bureau, dataset_id DESC)
SELECT c.code, c.commune, COALESCE(m.dept, ` + fmt.Sprintf(deptOf, "c.commune") + `),
	COALESCE(c.circonscription, circ.circonscription, ''), ST_AsBinary(ST_Transform(c.geom, 3857)), c.code AS k
FROM bureau_contours c JOIN v USING (vintage)
LEFT JOIN communes m ON m.code = c.commune
LEFT JOIN circ ON circ.bureau = c.code
UNION ALL
SELECT '', p.parent, COALESCE(m.dept, ` + fmt.Sprintf(deptOf, "p.parent") + `), '', ST_AsBinary(ST_Transform(i.geom, 3857)), i.code
FROM iris_contours i
CROSS JOIN LATERAL (SELECT ` + fmt.Sprintf(plmParent, "i.commune") + ` AS parent) p
LEFT JOIN communes m ON m.code = p.parent
WHERE i.vintage = (SELECT max(vintage) FROM iris_contours)
	AND NOT EXISTS (SELECT 1 FROM bureau_contours b JOIN v USING (vintage) WHERE b.commune = p.parent)
ORDER BY 6 -- the arcs, hence the built content, must not depend on a plan's row order`

// BaseFaces reads the faces communes, circonscriptions and départements are dissolved
// from: the bureau contours of the newest vintage, and the IRIS of communes that have
// no bureau contour, so that no commune is missing from the map.
func (db *DB) BaseFaces(ctx context.Context, fn func(tiles.Face) error) error {
	rows, err := db.pool.Query(ctx, baseFacesSQL)
	if err != nil {
		return fmt.Errorf("postgres: base faces: %w", err)
	}
	var f tiles.Face
	var g []byte
	var key string
	_, err = pgx.ForEachRow(rows, []any{&f.ID, &f.Commune, &f.Dept, &f.Circo, &g, &key}, func() error {
		mp, err := multiPolygon(g)
		if err != nil {
			return fmt.Errorf("face %s: %w", f.ID, err)
		}
		f.Geom = mp
		return fn(f)
	})
	if err != nil {
		return fmt.Errorf("postgres: base faces: %w", err)
	}
	return nil
}

const irisFacesSQL = `SELECT i.code, i.commune, COALESCE(NULLIF(i.name, ''), r.lab_iris, ''), COALESCE(NULLIF(i.type, ''), r.typ_iris, ''),
	ST_AsBinary(ST_Transform(i.geom, 3857))
FROM iris_contours i LEFT JOIN iris r ON r.code = i.code
WHERE i.vintage = (SELECT max(vintage) FROM iris_contours) ORDER BY i.code`

// IrisFaces reads the IRIS contours of the newest vintage.
func (db *DB) IrisFaces(ctx context.Context, fn func(tiles.Face) error) error {
	rows, err := db.pool.Query(ctx, irisFacesSQL)
	if err != nil {
		return fmt.Errorf("postgres: iris faces: %w", err)
	}
	var f tiles.Face
	var g []byte
	_, err = pgx.ForEachRow(rows, []any{&f.ID, &f.Commune, &f.Name, &f.Kind, &g}, func() error {
		mp, err := multiPolygon(g)
		if err != nil {
			return fmt.Errorf("iris %s: %w", f.ID, err)
		}
		f.Geom = mp
		return fn(f)
	})
	if err != nil {
		return fmt.Errorf("postgres: iris faces: %w", err)
	}
	return nil
}

func multiPolygon(b []byte) (orb.MultiPolygon, error) {
	g, err := wkb.Unmarshal(b)
	if err != nil {
		return nil, err
	}
	switch g := g.(type) {
	case orb.MultiPolygon:
		return g, nil
	case orb.Polygon:
		return orb.MultiPolygon{g}, nil
	}
	return nil, fmt.Errorf("geometry %s, want a polygon: %w", g.GeoJSONType(), errs.ErrInvalid)
}

const tileStageSQL = `CREATE TEMP TABLE tile_stage (
	layer text, band smallint, id text, name text, parent text, kind text, inscrits bigint,
	wkb bytea, enc bytea, ord bigint) ON COMMIT DROP`

// tileRefreshStageSQL stages the keys of a layer's stored features for a refresh of
// their attributes, in their stored order, wkb NULL: geometry, encoding and parent stay
// in tile_features, names and registered voters are left for tileAttributesSQL, as a
// rebuild leaves them.
const tileRefreshStageSQL = `INSERT INTO tile_stage (layer, band, id, name, parent, kind, ord)
SELECT layer, band, id, '', parent, kind, row_number() OVER (ORDER BY ctid) FROM tile_features WHERE layer = $1`

// tileInscritsSQL holds the registered voters of the last loaded election round.
const tileInscritsSQL = `CREATE TEMP TABLE tile_inscrits ON COMMIT DROP AS
SELECT r.bureau, r.commune, r.circonscription, r.inscrits FROM bureau_results r
WHERE (r.election, r.round) = (
	SELECT election, round FROM bureau_results WHERE dataset_id = (
		SELECT max(id) FROM datasets WHERE kind = 'results' AND superseded_at IS NULL) LIMIT 1)`

// tileAttributesSQL fills names and registered voters, per layer, from the reference
// tables, in the staging table: the geometry build never needs them, and the stored
// rows are then written once.
var tileAttributesSQL = map[string]string{
	"bureaux": `UPDATE tile_stage f SET
	name = COALESCE(NULLIF(c.name, ''), 'Bureau ' || c.bureau || ' — ' || COALESCE(m.name, c.commune_name, c.commune)),
	inscrits = i.inscrits
FROM bureau_contours c LEFT JOIN communes m ON m.code = c.commune LEFT JOIN tile_inscrits i ON i.bureau = c.code
WHERE f.layer = 'bureaux' AND c.code = f.id AND c.vintage = (SELECT max(vintage) FROM bureau_contours)`,
	"communes": `WITH ids AS (SELECT DISTINCT id FROM tile_stage WHERE layer = 'communes'),
n AS (SELECT DISTINCT ON (commune) commune AS id, commune_name AS name FROM bureau_contours
	WHERE commune_name IS NOT NULL ORDER BY commune),
s AS (SELECT commune AS id, sum(inscrits) AS inscrits FROM tile_inscrits GROUP BY commune),
x AS (SELECT ids.id, COALESCE(m.name, n.name, ids.id) AS name, s.inscrits FROM ids
	LEFT JOIN communes m ON m.code = ids.id LEFT JOIN n ON n.id = ids.id LEFT JOIN s ON s.id = ids.id)
UPDATE tile_stage f SET name = x.name, inscrits = x.inscrits FROM x WHERE f.layer = 'communes' AND f.id = x.id`,
	// The communes of this build, or the stored ones when only départements are rebuilt.
	"departements": `WITH cd AS (SELECT DISTINCT id, parent FROM tile_stage WHERE layer = 'communes'
	UNION SELECT DISTINCT id, parent FROM tile_features WHERE layer = 'communes'
		AND NOT EXISTS (SELECT 1 FROM tile_stage WHERE layer = 'communes')),
s AS (SELECT cd.parent AS id, sum(i.inscrits) AS inscrits FROM tile_inscrits i JOIN cd ON cd.id = i.commune GROUP BY cd.parent),
x AS (SELECT ids.id, COALESCE(d.name, 'Département ' || ids.id) AS name, s.inscrits
	FROM (SELECT DISTINCT id FROM tile_stage WHERE layer = 'departements') ids
	LEFT JOIN departements d ON d.code = ids.id LEFT JOIN s ON s.id = ids.id)
UPDATE tile_stage f SET name = x.name, inscrits = x.inscrits FROM x WHERE f.layer = 'departements' AND f.id = x.id`,
	// 2024 legislative files name no circonscription: the contours' one comes first.
	"circonscriptions": `WITH s AS (SELECT COALESCE(c.circonscription, i.circonscription) AS id, sum(i.inscrits) AS inscrits
	FROM tile_inscrits i LEFT JOIN bureau_contours c
		ON c.code = i.bureau AND c.vintage = (SELECT max(vintage) FROM bureau_contours)
	GROUP BY 1)
UPDATE tile_stage f SET
	name = left(f.id, length(f.id) - 2) || ' — ' || ltrim(right(f.id, 2), '0') || 'e circonscription',
	inscrits = s.inscrits
FROM (SELECT DISTINCT id FROM tile_stage WHERE layer = 'circonscriptions') ids LEFT JOIN s ON s.id = ids.id
WHERE f.layer = 'circonscriptions' AND f.id = ids.id`,
}

const tileHashSQL = `SELECT COALESCE(md5(string_agg(concat_ws('|', band, id, name, parent, kind, inscrits,
	md5(wkb)), ',' ORDER BY band, id)), ''), count(*) FROM tile_stage WHERE layer = $1`

// tileRefreshHashSQL is tileHashSQL for a refreshed layer, its geometry read where it
// is stored: ST_AsBinary writes the WKB the build sends, so equal content hashes equal.
const tileRefreshHashSQL = `SELECT COALESCE(md5(string_agg(concat_ws('|', s.band, s.id, s.name, s.parent, s.kind, s.inscrits,
	md5(ST_AsBinary(f.geom))), ',' ORDER BY s.band, s.id)), ''), count(*)
FROM tile_stage s JOIN tile_features f USING (layer, band, id) WHERE s.layer = $1`

const tileLayerUpsertSQL = `INSERT INTO tile_layers (layer, version, content_hash, features, sources)
VALUES ($1, nextval('tile_version_seq'), $2, $3, $4)
ON CONFLICT (layer) DO UPDATE SET
	version = CASE WHEN tile_layers.content_hash = EXCLUDED.content_hash THEN tile_layers.version ELSE EXCLUDED.version END,
	content_hash = EXCLUDED.content_hash, features = EXCLUDED.features, sources = EXCLUDED.sources, built_at = now()`

// tileSwapSQL writes a new tile_features: the layers not rebuilt as they were, then the
// staged ones with neighbours next to each other (a Morton order of their centres per
// layer and band), so that a tile's rows share a few heap pages; it indexes the table
// once and swaps it in. Updating rows in place instead left the table and its GiST
// index bloated and scattered after each build, and tile queries several times slower.
var tileSwapSQL = []string{
	`CREATE TABLE tile_features_next (LIKE tile_features INCLUDING DEFAULTS INCLUDING STORAGE)`,
	`INSERT INTO tile_features_next SELECT * FROM tile_features WHERE layer NOT IN (SELECT DISTINCT layer FROM tile_stage)`,
	`INSERT INTO tile_features_next (layer, band, id, name, parent, kind, inscrits, geom, enc)
SELECT layer, band, id, name, parent, kind, inscrits, ST_Multi(ST_SetSRID(ST_GeomFromWKB(wkb), 3857)), enc FROM tile_stage
WHERE wkb IS NOT NULL ORDER BY layer, band, ord`,
	// Refreshed layers: stored geometry with new attributes, in the stored order.
	`INSERT INTO tile_features_next (layer, band, id, name, parent, kind, inscrits, geom, enc)
SELECT f.layer, f.band, f.id, s.name, f.parent, f.kind, s.inscrits, f.geom, f.enc
FROM tile_stage s JOIN tile_features f USING (layer, band, id) WHERE s.wkb IS NULL ORDER BY s.layer, s.band, s.ord`,
	`ALTER TABLE tile_features_next ADD CONSTRAINT tile_features_next_pkey PRIMARY KEY (layer, band, id)`,
}

// tileSwapEndSQL follows the partial indexes.
var tileSwapEndSQL = []string{
	`DROP TABLE tile_features`,
	`ALTER TABLE tile_features_next RENAME TO tile_features`,
	`ALTER TABLE tile_features RENAME CONSTRAINT tile_features_next_pkey TO tile_features_pkey`,
	`ANALYZE tile_features`,
}

// tileIndexSQL indexes one layer at one band: a plain GiST on geometry, which PostGIS
// builds sorted in one pass, and whose scans are four to five times cheaper than the
// (layer, band, geom) btree_gist index of migration 0008 (every entry compared on three
// columns). Names come from the catalogue.
func tileIndexSQL(table, layer string, band int) string {
	return fmt.Sprintf(`CREATE INDEX %s_%s_%d ON %s USING gist (geom) WHERE layer = '%s' AND band = %d`,
		table, layer, band, table, layer, band)
}

// tileIndexRenameSQL gives an index of the new table its final name.
func tileIndexRenameSQL(layer string, band int) string {
	return fmt.Sprintf(`ALTER INDEX tile_features_next_%s_%d RENAME TO tile_features_%s_%d`, layer, band, layer, band)
}

// ReplaceTileLayers swaps the built layers in one transaction: readers see the old
// features or the new ones with their new version, never a mix, and wait only for the
// final swap. A layer whose content hash is unchanged keeps its version, so its cached
// tiles stay valid.
func (db *DB) ReplaceTileLayers(ctx context.Context, layers []tiles.BuiltLayer) error {
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("postgres: replace tile layers: %w", err)
	}
	defer tx.Rollback(ctx)
	// One build at a time: two would interleave their swaps.
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(7326008)`); err != nil {
		return fmt.Errorf("postgres: replace tile layers: lock: %w", err)
	}
	if _, err := tx.Exec(ctx, tileStageSQL); err != nil {
		return fmt.Errorf("postgres: replace tile layers: %w", err)
	}
	for _, l := range layers {
		if l.Refresh {
			if _, ok := tileAttributesSQL[l.Name]; !ok {
				return fmt.Errorf("postgres: tile layer %s: no attributes to refresh: %w", l.Name, errs.ErrInvalid)
			}
			if _, err := tx.Exec(ctx, tileRefreshStageSQL, l.Name); err != nil {
				return fmt.Errorf("postgres: refresh tile layer %s: %w", l.Name, err)
			}
			continue
		}
		i := 0
		_, err := tx.CopyFrom(ctx, pgx.Identifier{"tile_stage"}, []string{"layer", "band", "id", "name", "parent", "kind", "wkb", "enc", "ord"},
			pgx.CopyFromFunc(func() ([]any, error) {
				if i >= len(l.Features) {
					return nil, nil
				}
				f := l.Features[i]
				i++
				g, err := wkb.Marshal(f.Geom)
				if err != nil {
					return nil, err
				}
				return []any{l.Name, int16(f.Band), f.ID, f.Name, f.Parent, f.Kind, g, f.Enc, mortonKey(f.Geom.Bound())}, nil
			}))
		if err != nil {
			return fmt.Errorf("postgres: replace tile layer %s: copy: %w", l.Name, err)
		}
	}
	if _, err := tx.Exec(ctx, tileInscritsSQL); err != nil {
		return fmt.Errorf("postgres: replace tile layers: inscrits: %w", err)
	}
	// Communes before départements: a département's voters are summed over its communes.
	for _, name := range []string{"bureaux", "communes", "circonscriptions", "departements"} {
		for _, l := range layers {
			if l.Name != name {
				continue
			}
			if _, err := tx.Exec(ctx, tileAttributesSQL[name]); err != nil {
				return fmt.Errorf("postgres: tile layer %s: attributes: %w", name, err)
			}
		}
	}
	// A refresh that changes no layer's content leaves tile_features as it is.
	unchanged := true
	for _, l := range layers {
		var hash, old string
		var n int64
		q := tileHashSQL
		if l.Refresh {
			q = tileRefreshHashSQL
		}
		if err := tx.QueryRow(ctx, q, l.Name).Scan(&hash, &n); err != nil {
			return fmt.Errorf("postgres: tile layer %s: hash: %w", l.Name, err)
		}
		err := tx.QueryRow(ctx, `SELECT content_hash FROM tile_layers WHERE layer = $1`, l.Name).Scan(&old)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("postgres: tile layer %s: %w", l.Name, err)
		}
		unchanged = unchanged && l.Refresh && old == hash
		src, _ := json.Marshal(l.Sources)
		if _, err := tx.Exec(ctx, tileLayerUpsertSQL, l.Name, hash, n, src); err != nil {
			return fmt.Errorf("postgres: tile layer %s: %w", l.Name, err)
		}
	}
	if unchanged {
		if err := tx.Commit(ctx); err != nil {
			return fmt.Errorf("postgres: replace tile layers: commit: %w", err)
		}
		return nil
	}
	swap := slices.Clone(tileSwapSQL)
	var renames []string
	for _, l := range tiles.Layers() {
		if l.Name == "carreaux" { // its own table, tile_cells
			continue
		}
		for _, b := range l.Bands {
			swap = append(swap, tileIndexSQL("tile_features_next", l.Name, b))
			renames = append(renames, tileIndexRenameSQL(l.Name, b))
		}
	}
	swap = append(append(swap, tileSwapEndSQL...), renames...)
	for _, q := range swap {
		if _, err := tx.Exec(ctx, q); err != nil {
			return fmt.Errorf("postgres: replace tile layers: %w", translate(err))
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("postgres: replace tile layers: commit: %w", err)
	}
	return nil
}

// tileFeaturesSQL returns the statement reading the stored features of some layers,
// each at its band, near tile $1/$2/$3 grown by margin $4: one branch per layer, each
// naming its layer and band as constants so that the planner uses that pair's partial
// GiST index (tileIndexSQL). Layer names come from the catalogue and bands are numbers,
// never request text.
func tileFeaturesSQL(layers []string, bands []int) (string, error) {
	var b strings.Builder
	for i, name := range layers {
		if _, err := tiles.LayerByName(name); err != nil || strings.ContainsAny(name, "'\\") {
			return "", fmt.Errorf("postgres: tile layer %q: %w", name, errs.ErrNotFound)
		}
		if i > 0 {
			b.WriteString("\nUNION ALL\n")
		}
		fmt.Fprintf(&b, `SELECT %d, id, name, parent, kind, COALESCE(inscrits, -1), enc FROM tile_features
WHERE layer = '%s' AND band = %d AND geom && ST_TileEnvelope($1, $2, $3, margin => $4)`, i, name, bands[i])
	}
	return b.String(), nil
}

// TileFeatures calls fn for each stored feature of the query's layers near its tile,
// in one round trip.
func (db *DB) TileFeatures(ctx context.Context, q tiles.FeatureQuery, fn func(*tiles.Feature) error) error {
	sql, err := tileFeaturesSQL(q.Layers, q.Bands)
	if err != nil {
		return err
	}
	rows, err := db.pool.Query(ctx, sql, q.Z, q.X, q.Y, q.Margin)
	if err != nil {
		return fmt.Errorf("postgres: tile features %v/%d/%d/%d: %w", q.Layers, q.Z, q.X, q.Y, err)
	}
	var f tiles.Feature
	// DriverBytes: the row's own memory, valid until the next row; fn copies what it keeps.
	_, err = pgx.ForEachRow(rows, []any{&f.Layer, (*pgtype.DriverBytes)(&f.ID), (*pgtype.DriverBytes)(&f.Name),
		(*pgtype.DriverBytes)(&f.Parent), (*pgtype.DriverBytes)(&f.Kind), &f.Inscrits, (*pgtype.DriverBytes)(&f.Geom)}, func() error {
		return fn(&f)
	})
	if err != nil {
		return fmt.Errorf("postgres: tile features %v/%d/%d/%d: %w", q.Layers, q.Z, q.X, q.Y, err)
	}
	return nil
}

const tileCellsSQL = `SELECT id, ind, men, enc FROM tile_cells
WHERE ST_GeomFromWKB(bounds, 3857) && ST_TileEnvelope($1, $2, $3, margin => $4)`

// TileCells calls fn for each grid cell of the last build near the query's tile.
func (db *DB) TileCells(ctx context.Context, q tiles.FeatureQuery, fn func(*tiles.Feature) error) error {
	rows, err := db.pool.Query(ctx, tileCellsSQL, q.Z, q.X, q.Y, q.Margin)
	if err != nil {
		return fmt.Errorf("postgres: tile cells %d/%d/%d: %w", q.Z, q.X, q.Y, err)
	}
	f := tiles.Feature{Inscrits: -1}
	var ind, men float32
	_, err = pgx.ForEachRow(rows, []any{(*pgtype.DriverBytes)(&f.ID), &ind, &men, (*pgtype.DriverBytes)(&f.Geom)}, func() error {
		f.Ind, f.Men = float64(ind), float64(men)
		return fn(&f)
	})
	if err != nil {
		return fmt.Errorf("postgres: tile cells %d/%d/%d: %w", q.Z, q.X, q.Y, err)
	}
	return nil
}

// gridFacesSQL reads the cells of the newest grid vintage in the order they were loaded
// (INSEE files are sorted by cell id: northing, then easting), so the rows of
// neighbouring cells are written together; sorting here would add seconds.
const gridFacesSQL = `SELECT id, COALESCE(ind, 0), COALESCE(men, 0), ST_AsBinary(geom) FROM grid_cells
WHERE vintage = (SELECT max(vintage) FROM grid_cells)`

// tileCellsSwapSQL indexes the new cells table once and swaps it in. The table is
// created here with its columns spelled out, so a build also brings an older shape of
// tile_cells up to date.
var tileCellsSwapSQL = []string{
	`CREATE INDEX tile_cells_next_bounds ON tile_cells_next USING gist (ST_GeomFromWKB(bounds, 3857))`,
	`DROP TABLE IF EXISTS tile_cells`,
	`ALTER TABLE tile_cells_next RENAME TO tile_cells`,
	`ALTER INDEX tile_cells_next_bounds RENAME TO tile_cells_bounds`,
	`ANALYZE tile_cells`,
}

// ReplaceTileCells rebuilds tile_cells from the grid cells of the newest vintage: it
// fills a new table while reading the cells (two connections, nothing held in memory),
// encode turning each cell (WGS84) into its stored geometry and Web Mercator bounds;
// it indexes the table once and swaps it in within one transaction. The layer's
// version changes only when its sources or its number of cells do.
func (db *DB) ReplaceTileCells(ctx context.Context, sources map[string]string, encode func(orb.MultiPolygon) ([]byte, orb.Bound)) (int64, error) {
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return 0, fmt.Errorf("postgres: replace tile cells: %w", err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(7326008)`); err != nil {
		return 0, fmt.Errorf("postgres: replace tile cells: lock: %w", err)
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE tile_cells_next (
	id text NOT NULL, ind real NOT NULL, men real NOT NULL, bounds bytea NOT NULL, enc bytea NOT NULL)`); err != nil {
		return 0, fmt.Errorf("postgres: replace tile cells: %w", err)
	}
	rows, err := db.pool.Query(ctx, gridFacesSQL)
	if err != nil {
		return 0, fmt.Errorf("postgres: replace tile cells: %w", err)
	}
	defer rows.Close()
	var id string
	var ind, men float64
	var g []byte
	n, err := tx.CopyFrom(ctx, pgx.Identifier{"tile_cells_next"}, []string{"id", "ind", "men", "bounds", "enc"},
		pgx.CopyFromFunc(func() ([]any, error) {
			if !rows.Next() {
				return nil, rows.Err()
			}
			if err := rows.Scan(&id, &ind, &men, (*pgtype.DriverBytes)(&g)); err != nil {
				return nil, err
			}
			mp, err := multiPolygon(g)
			if err != nil {
				return nil, fmt.Errorf("cell %s: %w", id, err)
			}
			enc, b := encode(mp)
			return []any{id, float32(ind), float32(men), boundsWKB(b), enc}, nil
		}))
	if err != nil {
		return 0, fmt.Errorf("postgres: replace tile cells: copy: %w", err)
	}
	rows.Close()
	for _, q := range tileCellsSwapSQL {
		if _, err := tx.Exec(ctx, q); err != nil {
			return 0, fmt.Errorf("postgres: replace tile cells: %w", err)
		}
	}
	src, _ := json.Marshal(sources)
	hash := fmt.Sprintf("%x", md5.Sum(fmt.Appendf(src, "|%d", n)))
	if _, err := tx.Exec(ctx, tileLayerUpsertSQL, "carreaux", hash, n, src); err != nil {
		return 0, fmt.Errorf("postgres: replace tile cells: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, fmt.Errorf("postgres: replace tile cells: commit: %w", err)
	}
	return n, nil
}

// boundsWKB writes a box as a two-point WKB line, whose bounding box it is.
func boundsWKB(b orb.Bound) []byte {
	out := make([]byte, 0, 41)
	out = append(out, 1)                           // little endian
	out = binary.LittleEndian.AppendUint32(out, 2) // LineString
	out = binary.LittleEndian.AppendUint32(out, 2) // points
	for _, v := range []float64{b.Min[0], b.Min[1], b.Max[0], b.Max[1]} {
		out = binary.LittleEndian.AppendUint64(out, math.Float64bits(v))
	}
	return out
}

// mortonKey interleaves the bits of a box's centre on a 2^20 grid over the Web Mercator
// square: sorting by it keeps neighbours together.
func mortonKey(b orb.Bound) int64 {
	const half = 20037508.342789244
	c := b.Center()
	cell := func(v float64) uint64 {
		return uint64(min(max((v+half)/(2*half), 0), 1) * (1<<20 - 1))
	}
	x, y := cell(c[0]), cell(c[1])
	var k uint64
	for i := range 20 {
		k |= (x>>i&1)<<(2*i) | (y>>i&1)<<(2*i+1)
	}
	return int64(k)
}

const naiveTileSQL = `WITH env AS (SELECT ST_TileEnvelope($1, $2, $3) AS box)
SELECT ST_AsMVT(t, 'bureaux', 4096, 'geom') FROM (
	SELECT b.code AS id, ST_AsMVTGeom(ST_Transform(b.geom, 3857), env.box, 4096, 64) AS geom
	FROM bureau_contours b, env WHERE b.geom && ST_Transform(env.box, 4326)) t`

// NaiveBureauTile builds a bureaux tile the way pg_tileserv and martin do, with
// ST_AsMVT over the full-resolution contours: the baseline of make bench-tiles.
func (db *DB) NaiveBureauTile(ctx context.Context, z, x, y int) ([]byte, error) {
	var b []byte
	if err := db.pool.QueryRow(ctx, naiveTileSQL, z, x, y).Scan(&b); err != nil {
		return nil, fmt.Errorf("postgres: naive tile %d/%d/%d: %w", z, x, y, err)
	}
	return b, nil
}

// TileDensity returns, for the bureaux at zoom z, the tiles holding the most bureau
// contours (counted on their centroids), densest first: where a benchmark should look.
func (db *DB) TileDensity(ctx context.Context, z, limit int) ([][3]int, error) {
	const q = `WITH c AS (SELECT ST_Transform(ST_PointOnSurface(geom), 3857) AS p FROM bureau_contours),
t AS (SELECT floor((ST_X(p) + 20037508.342789244) / (40075016.68557849 / 2 ^ $1))::int AS x,
	floor((20037508.342789244 - ST_Y(p)) / (40075016.68557849 / 2 ^ $1))::int AS y FROM c)
SELECT x, y, count(*) FROM t GROUP BY x, y ORDER BY count(*) DESC, x, y LIMIT $2`
	rows, err := db.pool.Query(ctx, q, z, limit)
	if err != nil {
		return nil, fmt.Errorf("postgres: tile density: %w", err)
	}
	var out [][3]int
	var x, y, n int
	_, err = pgx.ForEachRow(rows, []any{&x, &y, &n}, func() error { out = append(out, [3]int{z, x, y}); return nil })
	if err != nil {
		return nil, fmt.Errorf("postgres: tile density: %w", err)
	}
	return out, nil
}

// CellDensity returns the tiles at zoom z holding the most grid cells of the last
// build, densest first: where a benchmark of the carreaux layer should look.
func (db *DB) CellDensity(ctx context.Context, z, limit int) ([][3]int, error) {
	const q = `WITH c AS (SELECT ST_Centroid(ST_GeomFromWKB(bounds, 3857)) AS p FROM tile_cells),
t AS (SELECT floor((ST_X(p) + 20037508.342789244) / (40075016.68557849 / 2 ^ $1))::int AS x,
	floor((20037508.342789244 - ST_Y(p)) / (40075016.68557849 / 2 ^ $1))::int AS y FROM c)
SELECT x, y FROM t GROUP BY x, y ORDER BY count(*) DESC, x, y LIMIT $2`
	rows, err := db.pool.Query(ctx, q, z, limit)
	if err != nil {
		return nil, fmt.Errorf("postgres: cell density: %w", err)
	}
	var out [][3]int
	var x, y int
	_, err = pgx.ForEachRow(rows, []any{&x, &y}, func() error { out = append(out, [3]int{z, x, y}); return nil })
	if err != nil {
		return nil, fmt.Errorf("postgres: cell density: %w", err)
	}
	return out, nil
}

// resultsKeys is the feature id of a results row, per layer.
var resultsKeys = map[string]string{
	"bureaux":          "r.bureau",
	"communes":         "r.commune",
	"circonscriptions": "r.circonscription",
	"departements":     fmt.Sprintf(deptOf, "r.commune"),
}

var resultsMeasures = map[string]string{
	"abstention":    "sum(r.abstentions)::float8 / NULLIF(sum(r.inscrits), 0)",
	"participation": "sum(r.votants)::float8 / NULLIF(sum(r.inscrits), 0)",
	"inscrits":      "sum(r.inscrits)::float8",
	"blancs_nuls":   "sum(COALESCE(r.blancs, 0) + COALESCE(r.nuls, 0))::float8 / NULLIF(sum(r.votants), 0)",
}

// votesFilters pick the candidates whose share is asked for.
var votesFilters = map[string]string{
	"nuance": "nuance = $4",
	"panel":  "panel = $4::int",
}

const latestElectionSQL = `SELECT election, round FROM bureau_results WHERE dataset_id = (
	SELECT max(id) FROM datasets WHERE kind = 'results' AND superseded_at IS NULL) LIMIT 1`

// Indicator returns one indicator's value for every feature of a layer. Rates are
// recomputed from summed counts, never averaged.
func (db *DB) Indicator(ctx context.Context, q tiles.IndicatorQuery) (map[string]float64, error) {
	kind, arg, _ := strings.Cut(q.Indicator, ":")
	var sql string
	var args []any
	switch {
	case kind == "share" || kind == "change":
		return db.censusShareIndicator(ctx, q)
	case kind == "census":
		if q.Layer != "iris" {
			return nil, fmt.Errorf("postgres: indicator %s on %s: census values are by IRIS: %w", q.Indicator, q.Layer, errs.ErrInvalid)
		}
		sql = `SELECT v.iris, v.value FROM census_values v JOIN census_variables c ON c.id = v.variable_id
WHERE c.name = $1 AND c.vintage = CASE WHEN $3 > 0 THEN $3 ELSE (SELECT max(vintage) FROM census_variables WHERE name = $1) END
	AND ($2 = '' OR ` + fmt.Sprintf(deptOf, "v.iris") + ` = $2)`
		args = []any{arg, q.Dept, q.Vintage}
	default:
		key, ok := resultsKeys[q.Layer]
		if !ok {
			return nil, fmt.Errorf("postgres: indicator %s on layer %q: %w", q.Indicator, q.Layer, errs.ErrInvalid)
		}
		if q.Election == "" || q.Round == 0 {
			if err := db.pool.QueryRow(ctx, latestElectionSQL).Scan(&q.Election, &q.Round); err != nil {
				return nil, fmt.Errorf("postgres: indicator: no results loaded: %w", translate(err))
			}
		}
		where := `WHERE r.election = $1 AND r.round = $2 AND ($3 = '' OR ` + fmt.Sprintf(deptOf, "r.commune") + ` = $3) AND ` + key + ` IS NOT NULL`
		args = []any{q.Election, q.Round, q.Dept}
		if m, ok := resultsMeasures[q.Indicator]; ok {
			sql = `SELECT ` + key + `, ` + m + ` FROM bureau_results r ` + where + ` GROUP BY 1`
		} else if f, ok := votesFilters[kind]; ok && arg != "" {
			if kind == "panel" {
				if _, err := strconv.Atoi(arg); err != nil {
					return nil, fmt.Errorf("postgres: indicator %s: %w", q.Indicator, errs.ErrInvalid)
				}
			}
			sql = `SELECT ` + key + `, sum(COALESCE(v.votes, 0))::float8 / NULLIF(sum(r.exprimes), 0) FROM bureau_results r
LEFT JOIN (SELECT bureau, sum(votes) AS votes FROM candidate_results
	WHERE election = $1 AND round = $2 AND ` + f + ` GROUP BY bureau) v USING (bureau) ` + where + ` GROUP BY 1`
			args = append(args, arg)
		} else {
			return nil, fmt.Errorf("postgres: indicator %q: %w", q.Indicator, errs.ErrInvalid)
		}
	}
	rows, err := db.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: indicator %s: %w", q.Indicator, err)
	}
	out := map[string]float64{}
	var id string
	var v *float64
	_, err = pgx.ForEachRow(rows, []any{&id, &v}, func() error {
		if v != nil && !math.IsNaN(*v) {
			out[id] = math.Round(*v*1e4) / 1e4
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: indicator %s: %w", q.Indicator, err)
	}
	return out, nil
}

// IndicatorCatalogue lists the election rounds loaded, their nuances and the census
// variables.
func (db *DB) IndicatorCatalogue(ctx context.Context) (*tiles.IndicatorCatalogue, error) {
	c := &tiles.IndicatorCatalogue{Elections: []tiles.ElectionRound{}, Nuances: map[string][]string{}, Census: []string{}}
	rows, err := db.pool.Query(ctx, `SELECT election, round, COALESCE(array_agg(DISTINCT nuance) FILTER (WHERE nuance IS NOT NULL), '{}')
FROM (SELECT DISTINCT election, round FROM bureau_results) e
LEFT JOIN LATERAL (SELECT DISTINCT nuance FROM candidate_results c WHERE c.election = e.election AND c.round = e.round) n ON true
GROUP BY election, round ORDER BY election DESC, round`)
	if err != nil {
		return nil, fmt.Errorf("postgres: indicator catalogue: %w", err)
	}
	var e tiles.ElectionRound
	var nuances []string
	_, err = pgx.ForEachRow(rows, []any{&e.Election, &e.Round, &nuances}, func() error {
		c.Elections = append(c.Elections, e)
		c.Nuances[e.Election+"/"+strconv.Itoa(e.Round)] = nuances
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: indicator catalogue: %w", err)
	}
	rows, err = db.pool.Query(ctx, `SELECT DISTINCT name FROM census_variables WHERE kind = 'extensive' ORDER BY 1`)
	if err != nil {
		return nil, fmt.Errorf("postgres: indicator catalogue: %w", err)
	}
	if c.Census, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
		return nil, fmt.Errorf("postgres: indicator catalogue: %w", err)
	}
	names, err := db.CensusNames(ctx)
	if err != nil {
		return nil, err
	}
	c.Shares = []tiles.CensusShareEntry{}
	for _, s := range crosstab.CensusShares() {
		if vs := s.Vintages(names); len(vs) > 0 {
			c.Shares = append(c.Shares, tiles.CensusShareEntry{Key: s.Key, Label: s.Label, Theme: s.Theme, Note: s.Note, Vintages: vs})
		}
	}
	return c, nil
}

// The box of the coarsest band of the département layer: a handful of rows, whose
// outline is that of every built layer.
const tileBoundsSQL = `SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (
	SELECT ST_Transform(ST_SetSRID(ST_Extent(geom)::geometry, 3857), 4326) AS e FROM tile_features
	WHERE layer = 'departements' AND band = (SELECT min(band) FROM tile_features WHERE layer = 'departements')) t
WHERE e IS NOT NULL`

// TileBounds returns the lon/lat box of the built tile layers; ok is false before any build.
func (db *DB) TileBounds(ctx context.Context) (bounds [4]float64, ok bool, err error) {
	err = db.pool.QueryRow(ctx, tileBoundsSQL).Scan(&bounds[0], &bounds[1], &bounds[2], &bounds[3])
	if errors.Is(err, pgx.ErrNoRows) {
		return bounds, false, nil
	}
	if err != nil {
		return bounds, false, fmt.Errorf("postgres: tile bounds: %w", err)
	}
	return bounds, true, nil
}
