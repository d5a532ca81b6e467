package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"

	"github.com/jackc/pgx/v5"

	"github.com/coopol/coopol/internal/ingest"
	"github.com/coopol/coopol/internal/ingest/geo"
)

// A geometry load streams the file into a temporary staging table by binary COPY (WKB
// straight into a geometry column, SRID unset), then, in the same transaction: checks
// the CRSs the file named, repairs the invalid polygons in place (only those rows are
// rewritten), and moves everything with one INSERT … SELECT that reprojects to WGS84
// where needed. The staging geometries stay uncompressed (STORAGE EXTERNAL): compressing
// coordinates costs time for nothing.

// PostGIS functions carry high costs, so the planner JIT-compiles every statement over
// the staging table: half a second of compilation for a plain scan. Off, for this
// transaction only.
const geoSessionSQL = `SET LOCAL jit = off`

// sridUse is where a file first named a CRS.
type sridUse struct {
	line int64
	col  int
}

// stagedGeom tracks, while a file streams into staging, what the SQL steps need.
type stagedGeom struct {
	file     string
	srids    map[int]sridUse  // CRSs named by features; the collection's is added at the end
	useColl  bool             // some feature has no CRS of its own
	seen     map[string]int64 // line of each key's first feature, negated once repeated
	dups     []string
	warnings []ingest.Warning
	valid    geo.ValidityChecker
	rows     int64 // staged
}

func newStagedGeom(file string) *stagedGeom {
	// dups is never nil: a NULL array would make "NOT code = ANY($n)" NULL for every row.
	return &stagedGeom{file: file, srids: map[int]sridUse{}, seen: map[string]int64{}, dups: []string{}}
}

// add records a feature; it returns false when the feature is not to be staged.
func (s *stagedGeom) add(f *geo.Feature, key string) bool {
	switch {
	case f.WKB == nil:
		s.warn(f.Line, "no_geometry", key, "feature without geometry: skipped")
		return false
	case len(f.WKB) <= 9: // a Polygon or MultiPolygon header with no parts
		s.warn(f.Line, "empty_geometry", key, "empty geometry: skipped")
		return false
	}
	s.rows++
	if first, ok := s.seen[key]; ok {
		if first > 0 { // the first repeat of this key: list it once
			s.dups = append(s.dups, key)
			s.seen[key] = -first
		} else {
			first = -first
		}
		s.warn(f.Line, "duplicate_key", key, fmt.Sprintf("%s already at line %d: the polygons are merged", key, first))
	} else {
		s.seen[key] = f.Line
	}
	if f.SRID == 0 {
		s.useColl = true
	} else if _, ok := s.srids[f.SRID]; !ok {
		s.srids[f.SRID] = sridUse{f.Line, f.Col}
	}
	return true
}

// bulkIndexRows is the size from which a load drops the GiST index of its table and
// builds it again after inserting (0.7 s instead of 2.6 s for 69,000 bureaux). The
// table is then locked against readers until the load commits, which is fine for the
// rare national loads; smaller files keep the index and the readers.
const bulkIndexRows = 10000

// dropIndex drops the GiST index named by drop when the load is bulk; it returns the
// statement to run after the insert.
func (s *stagedGeom) dropIndex(ctx context.Context, tx pgx.Tx, drop, create string) (string, error) {
	if s.rows < bulkIndexRows {
		return "", nil
	}
	if _, err := tx.Exec(ctx, drop); err != nil {
		return "", fmt.Errorf("postgres: load %s: %w", s.file, err)
	}
	return create, nil
}

// reindex runs the statement dropIndex returned, if any.
func (s *stagedGeom) reindex(ctx context.Context, tx pgx.Tx, create string) error {
	if create == "" {
		return nil
	}
	if _, err := tx.Exec(ctx, create); err != nil {
		return fmt.Errorf("postgres: load %s: index: %w", s.file, err)
	}
	return nil
}

func (s *stagedGeom) warn(line int64, code, key, msg string) {
	s.warnings = append(s.warnings, ingest.Warning{Line: line, Code: code, Key: key, Message: msg})
}

const unknownSRIDsSQL = `SELECT coalesce(array_agg(s ORDER BY s), '{}') FROM unnest($1::int[]) s
WHERE NOT EXISTS (SELECT 1 FROM spatial_ref_sys r WHERE r.srid = s)`

// checkSRIDs fails with a ParseError at the crs member naming a CRS PostGIS lacks.
func (s *stagedGeom) checkSRIDs(ctx context.Context, tx pgx.Tx, r *geo.Reader) error {
	if s.useColl {
		c := r.CRS()
		if _, ok := s.srids[r.SRID()]; !ok {
			s.srids[r.SRID()] = sridUse{c.Line, c.Col}
		}
	}
	ids := make([]int32, 0, len(s.srids))
	for id := range s.srids {
		ids = append(ids, int32(id))
	}
	var unknown []int32
	if err := tx.QueryRow(ctx, unknownSRIDsSQL, ids).Scan(&unknown); err != nil {
		return fmt.Errorf("postgres: load %s: check CRS: %w", s.file, err)
	}
	if len(unknown) > 0 {
		u := s.srids[int(unknown[0])]
		return ingest.Errorf(s.file, u.line, u.col, "unknown CRS EPSG:%d: PostGIS cannot reproject it", unknown[0])
	}
	return nil
}

// repair runs a repair statement returning (line, key, empty) for each invalid polygon.
func (s *stagedGeom) repair(ctx context.Context, tx pgx.Tx, sql string) error {
	rows, err := tx.Query(ctx, sql)
	if err != nil {
		return fmt.Errorf("postgres: load %s: repair: %w", s.file, err)
	}
	type fixed struct {
		line  int64
		key   string
		empty bool
	}
	got, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (fixed, error) {
		var f fixed
		err := r.Scan(&f.line, &f.key, &f.empty)
		return f, err
	})
	if err != nil {
		return fmt.Errorf("postgres: load %s: repair: %w", s.file, err)
	}
	sort.Slice(got, func(i, j int) bool { return got[i].line < got[j].line })
	for _, f := range got {
		if f.empty {
			s.warn(f.line, "empty_geometry", f.key, "invalid polygon with no area left after repair: skipped")
		} else {
			s.warn(f.line, "repaired_geometry", f.key, "invalid polygon repaired (ST_MakeValid, polygonal parts kept)")
		}
	}
	return nil
}

// geoCopyErr prefers the parse error that stopped the source over COPY's report of it.
func geoCopyErr(file string, parseErr, err error) error {
	if parseErr != nil {
		return parseErr
	}
	return fmt.Errorf("postgres: load %s: copy: %w", file, err)
}

const createContoursStageSQL = `CREATE TEMP TABLE contours_stage (
	line bigint, code text, commune text, bureau text, arrondissement text, circonscription text,
	commune_name text, name text, properties jsonb, srid int, checked boolean, geom geometry
) ON COMMIT DROP;
ALTER TABLE contours_stage ALTER COLUMN geom SET STORAGE EXTERNAL`

var contoursStageCols = []string{"line", "code", "commune", "bureau", "arrondissement", "circonscription",
	"commune_name", "name", "properties", "srid", "checked", "geom"}

// GEOS checks the polygons Go could not prove valid (checked); only invalid rows are
// rewritten.
const repairContoursSQL = `UPDATE contours_stage SET geom = ST_CollectionExtract(ST_MakeValid(geom), 3)
WHERE NOT checked AND NOT ST_IsValid(geom) RETURNING line, code, ST_IsEmpty(geom)`

const dropContoursIndexSQL = `DROP INDEX bureau_contours_geom`
const createContoursIndexSQL = `CREATE INDEX bureau_contours_geom ON bureau_contours USING gist (geom)`

const deleteContoursSQL = `DELETE FROM bureau_contours WHERE vintage = $1`

// The transform is skipped for WGS84 rows; duplicate keys ($4) are merged by the next
// statement instead.
const insertContoursSQL = `INSERT INTO bureau_contours (dataset_id, vintage, code, commune, bureau,
	arrondissement, circonscription, commune_name, name, properties, geom)
SELECT $1, $2, code, commune, bureau, nullif(arrondissement, ''), nullif(circonscription, ''),
	nullif(commune_name, ''), nullif(name, ''), properties,
	ST_Multi(CASE WHEN s = 4326 THEN ST_SetSRID(geom, 4326) ELSE ST_Transform(ST_SetSRID(geom, s), 4326) END)
FROM (SELECT *, CASE WHEN srid = 0 THEN $3 ELSE srid END AS s FROM contours_stage) st
WHERE NOT ST_IsEmpty(geom) AND NOT code = ANY($4)`

const insertContoursDupSQL = `INSERT INTO bureau_contours (dataset_id, vintage, code, commune, bureau,
	arrondissement, circonscription, commune_name, name, properties, geom)
SELECT $1, $2, code, min(commune), min(bureau), nullif(min(arrondissement), ''), nullif(min(circonscription), ''),
	nullif(min(commune_name), ''), nullif(min(name), ''), (array_agg(properties ORDER BY line))[1],
	ST_Multi(ST_CollectionExtract(ST_Union(
		CASE WHEN s = 4326 THEN ST_SetSRID(geom, 4326) ELSE ST_Transform(ST_SetSRID(geom, s), 4326) END), 3))
FROM (SELECT *, CASE WHEN srid = 0 THEN $3 ELSE srid END AS s FROM contours_stage) st
WHERE NOT ST_IsEmpty(geom) AND code = ANY($4)
GROUP BY code`

// LoadContours loads a file of bureau de vote contours as the given vintage, replacing
// the contours of that vintage, and matches its bureaux against the latest results.
// l.Scope should be the vintage.
func (db *DB) LoadContours(ctx context.Context, l Load, vintage string, src *geo.ContourReader) (*ingest.Report, error) {
	return db.load(ctx, l, func(ctx context.Context, tx pgx.Tx, id int64) (Loaded, error) {
		if _, err := tx.Exec(ctx, geoSessionSQL); err != nil {
			return Loaded{}, fmt.Errorf("postgres: load %s: %w", l.File, err)
		}
		if _, err := tx.Exec(ctx, createContoursStageSQL); err != nil {
			return Loaded{}, fmt.Errorf("postgres: load %s: %w", l.File, err)
		}
		st := newStagedGeom(l.File)
		var parseErr error
		_, err := tx.CopyFrom(ctx, pgx.Identifier{"contours_stage"}, contoursStageCols,
			pgx.CopyFromFunc(func() ([]any, error) {
				for {
					c, err := src.Next()
					if errors.Is(err, io.EOF) {
						return nil, nil
					}
					if err != nil {
						parseErr = err
						return nil, err
					}
					f := c.Feature
					if !st.add(f, c.Key) {
						continue
					}
					props := []byte(f.Properties)
					if props == nil {
						props = []byte("{}")
					}
					return []any{f.Line, c.Key, c.Commune, c.Bureau, c.Arrondissement, c.Circonscription,
						c.CommuneName, c.Name, props, int32(f.SRID), st.valid.SurelyValid(f.WKB), f.WKB}, nil
				}
			}))
		if err != nil || parseErr != nil {
			return Loaded{}, geoCopyErr(l.File, parseErr, err)
		}
		if err := st.checkSRIDs(ctx, tx, src.Reader); err != nil {
			return Loaded{}, err
		}
		if err := st.repair(ctx, tx, repairContoursSQL); err != nil {
			return Loaded{}, err
		}
		if _, err := tx.Exec(ctx, deleteContoursSQL, vintage); err != nil {
			return Loaded{}, fmt.Errorf("postgres: load %s: %w", l.File, err)
		}
		reindex, err := st.dropIndex(ctx, tx, dropContoursIndexSQL, createContoursIndexSQL)
		if err != nil {
			return Loaded{}, err
		}
		var rows int64
		for _, q := range []string{insertContoursSQL, insertContoursDupSQL} {
			tag, err := tx.Exec(ctx, q, id, vintage, src.SRID(), st.dups)
			if err != nil {
				return Loaded{}, fmt.Errorf("postgres: load %s: %w", l.File, translate(err))
			}
			rows += tag.RowsAffected()
		}
		if err := st.reindex(ctx, tx, reindex); err != nil {
			return Loaded{}, err
		}
		m, err := matchContours(ctx, tx, id)
		if err != nil {
			return Loaded{}, fmt.Errorf("postgres: load %s: match: %w", l.File, err)
		}
		return Loaded{Rows: rows, Layout: src.Layout(), Warnings: st.warnings, Match: m}, nil
	})
}

const latestResultsSQL = `SELECT d.id, coalesce((SELECT election || '/' || round FROM bureau_results r
	WHERE r.dataset_id = d.id LIMIT 1), d.scope)
FROM datasets d WHERE d.kind = 'results' AND d.superseded_at IS NULL ORDER BY d.id DESC LIMIT 1`

// Results are limited to the communes of the contour file: a file of one city is not
// expected to hold the rest of France.
const matchContoursSQL = `SELECT coalesce(c.code, r.bureau), c.code IS NOT NULL, r.bureau IS NOT NULL
FROM (SELECT code FROM bureau_contours WHERE dataset_id = $1) c
FULL JOIN (SELECT bureau FROM bureau_results WHERE dataset_id = $2
	AND commune IN (SELECT DISTINCT commune FROM bureau_contours WHERE dataset_id = $1)) r
ON r.bureau = c.code
ORDER BY 1`

// matchContours compares the contours of dataset id with the bureaux of the results
// dataset loaded last.
func matchContours(ctx context.Context, tx pgx.Tx, id int64) (*ingest.Match, error) {
	var (
		resID int64
		label string
	)
	err := tx.QueryRow(ctx, latestResultsSQL).Scan(&resID, &label)
	if errors.Is(err, pgx.ErrNoRows) {
		return &ingest.Match{Against: "results (none loaded)", OnlyHere: []string{}, OnlyOther: []string{}}, nil
	}
	if err != nil {
		return nil, err
	}
	m := &ingest.Match{Against: "results " + label, OnlyHere: []string{}, OnlyOther: []string{}}
	rows, err := tx.Query(ctx, matchContoursSQL, id, resID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			key       string
			here, res bool
		)
		if err := rows.Scan(&key, &here, &res); err != nil {
			return nil, err
		}
		switch {
		case here && res:
			m.Matched++
		case here:
			m.OnlyHere = append(m.OnlyHere, key)
		default:
			m.OnlyOther = append(m.OnlyOther, key)
		}
	}
	return m, rows.Err()
}

const createIRISContoursStageSQL = `CREATE TEMP TABLE iris_contours_stage (
	line bigint, vintage text, code text, commune text, name text, type text, srid int, checked boolean, geom geometry
) ON COMMIT DROP;
ALTER TABLE iris_contours_stage ALTER COLUMN geom SET STORAGE EXTERNAL`

var irisContoursStageCols = []string{"line", "vintage", "code", "commune", "name", "type", "srid", "checked", "geom"}

const repairIRISContoursSQL = `UPDATE iris_contours_stage SET geom = ST_CollectionExtract(ST_MakeValid(geom), 3)
WHERE NOT checked AND NOT ST_IsValid(geom) RETURNING line, vintage || '/' || code, ST_IsEmpty(geom)`

const dropIRISContoursIndexSQL = `DROP INDEX iris_contours_geom`
const createIRISContoursIndexSQL = `CREATE INDEX iris_contours_geom ON iris_contours USING gist (geom)`

const deleteIRISContoursSQL = `DELETE FROM iris_contours WHERE vintage = ANY($1)`

// A load of some vintages supersedes any current IRIS load holding one of them, so that
// reloading that other file later reloads it instead of finding it unchanged.
const supersedeIRISContoursSQL = `UPDATE datasets SET superseded_at = now()
WHERE kind = 'iris' AND superseded_at IS NULL AND id <> $1 AND string_to_array(scope, '+') && $2::text[]`

const insertIRISContoursSQL = `INSERT INTO iris_contours (dataset_id, vintage, code, commune, name, type, geom)
SELECT $1, vintage, code, commune, name, type,
	ST_Multi(CASE WHEN s = 4326 THEN ST_SetSRID(geom, 4326) ELSE ST_Transform(ST_SetSRID(geom, s), 4326) END)
FROM (SELECT *, CASE WHEN srid = 0 THEN $2 ELSE srid END AS s FROM iris_contours_stage) st
WHERE NOT ST_IsEmpty(geom) AND NOT vintage || '/' || code = ANY($3)`

const insertIRISContoursDupSQL = `INSERT INTO iris_contours (dataset_id, vintage, code, commune, name, type, geom)
SELECT $1, vintage, code, min(commune), min(name), min(type),
	ST_Multi(ST_CollectionExtract(ST_Union(
		CASE WHEN s = 4326 THEN ST_SetSRID(geom, 4326) ELSE ST_Transform(ST_SetSRID(geom, s), 4326) END), 3))
FROM (SELECT *, CASE WHEN srid = 0 THEN $2 ELSE srid END AS s FROM iris_contours_stage) st
WHERE NOT ST_IsEmpty(geom) AND vintage || '/' || code = ANY($3)
GROUP BY vintage, code`

// IRISScope is the scope of a load of IRIS vintages: "2023", or "2015+2016+…".
func IRISScope(vintages []string) string {
	v := slices.Sorted(slices.Values(vintages))
	v = slices.Compact(v)
	s := ""
	for i, y := range v {
		if i > 0 {
			s += "+"
		}
		s += y
	}
	return s
}

// LoadIRIS loads IRIS contours of the given vintages (every vintage src yields must be
// among them), replacing the IRIS of those vintages and no other. l.Scope should be
// IRISScope(vintages).
func (db *DB) LoadIRIS(ctx context.Context, l Load, vintages []string, src *geo.IRISReader) (*ingest.Report, error) {
	return db.load(ctx, l, func(ctx context.Context, tx pgx.Tx, id int64) (Loaded, error) {
		if _, err := tx.Exec(ctx, geoSessionSQL); err != nil {
			return Loaded{}, fmt.Errorf("postgres: load %s: %w", l.File, err)
		}
		if _, err := tx.Exec(ctx, createIRISContoursStageSQL); err != nil {
			return Loaded{}, fmt.Errorf("postgres: load %s: %w", l.File, err)
		}
		st := newStagedGeom(l.File)
		var parseErr error
		_, err := tx.CopyFrom(ctx, pgx.Identifier{"iris_contours_stage"}, irisContoursStageCols,
			pgx.CopyFromFunc(func() ([]any, error) {
				for {
					it, err := src.Next()
					if errors.Is(err, io.EOF) {
						return nil, nil
					}
					if err != nil {
						parseErr = err
						return nil, err
					}
					f := it.Feature
					if !slices.Contains(vintages, it.Vintage) {
						parseErr = src.Errorf(f.Line, f.Col, "feature %d: vintage %s was not found when the file was first read", src.Count(), it.Vintage)
						return nil, parseErr
					}
					key := it.Vintage + "/" + it.Code
					if !st.add(f, key) {
						continue
					}
					if !it.TypeKnown {
						st.warn(f.Line, "unknown_iris_type", key, fmt.Sprintf("IRIS type %q not understood", it.Type))
					}
					if it.CommuneField != "" {
						st.warn(f.Line, "commune_mismatch", key, fmt.Sprintf("commune field %s differs from the code's %s", it.CommuneField, it.Commune))
					}
					return []any{f.Line, it.Vintage, it.Code, it.Commune, it.Name, it.Type, int32(f.SRID), st.valid.SurelyValid(f.WKB), f.WKB}, nil
				}
			}))
		if err != nil || parseErr != nil {
			return Loaded{}, geoCopyErr(l.File, parseErr, err)
		}
		if len(st.seen) == 0 {
			return Loaded{}, ingest.Errorf(l.File, 0, 0, "no IRIS of vintage %s in the file", IRISScope(vintages))
		}
		if err := st.checkSRIDs(ctx, tx, src.Reader); err != nil {
			return Loaded{}, err
		}
		if err := st.repair(ctx, tx, repairIRISContoursSQL); err != nil {
			return Loaded{}, err
		}
		if _, err := tx.Exec(ctx, supersedeIRISContoursSQL, id, vintages); err != nil {
			return Loaded{}, fmt.Errorf("postgres: load %s: %w", l.File, err)
		}
		if _, err := tx.Exec(ctx, deleteIRISContoursSQL, vintages); err != nil {
			return Loaded{}, fmt.Errorf("postgres: load %s: %w", l.File, err)
		}
		reindex, err := st.dropIndex(ctx, tx, dropIRISContoursIndexSQL, createIRISContoursIndexSQL)
		if err != nil {
			return Loaded{}, err
		}
		var rows int64
		for _, q := range []string{insertIRISContoursSQL, insertIRISContoursDupSQL} {
			tag, err := tx.Exec(ctx, q, id, src.SRID(), st.dups)
			if err != nil {
				return Loaded{}, fmt.Errorf("postgres: load %s: %w", l.File, translate(err))
			}
			rows += tag.RowsAffected()
		}
		if err := st.reindex(ctx, tx, reindex); err != nil {
			return Loaded{}, err
		}
		return Loaded{Rows: rows, Layout: src.Layout(), Warnings: st.warnings}, nil
	})
}
