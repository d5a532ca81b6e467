package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/coopol/coopol/internal/ingest"
	"github.com/coopol/coopol/internal/ingest/insee"
)

// copySource adapts a row function to pgx.CopyFromSource. next returns io.EOF at the end;
// any other error stops the COPY and is returned by the load, so a bad row loads nothing.
type copySource struct {
	next func() ([]any, error)
	vals []any
	err  error
}

func (s *copySource) Next() bool {
	v, err := s.next()
	if err != nil {
		if err != io.EOF {
			s.err = err
		}
		return false
	}
	s.vals = v
	return true
}

func (s *copySource) Values() ([]any, error) { return s.vals, nil }
func (s *copySource) Err() error             { return s.err }

// copyRows runs one binary COPY and prefers the source's own error (a ParseError naming
// file, line and column) over the driver's report of the aborted COPY.
func copyRows(ctx context.Context, tx pgx.Tx, table string, cols []string, next func() ([]any, error)) (int64, error) {
	src := &copySource{next: next}
	n, err := tx.CopyFrom(ctx, pgx.Identifier{table}, cols, src)
	if src.err != nil {
		return 0, src.err
	}
	if err != nil {
		return 0, fmt.Errorf("copy into %s: %w", table, copyError(err))
	}
	return n, nil
}

// copyError names the offending key of a constraint violated during a COPY.
func copyError(err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		return fmt.Errorf("%w (%s)", translate(err), pgErr.Detail)
	}
	return err
}

func nullFloat(f float64) any {
	if math.IsNaN(f) {
		return nil
	}
	return f
}

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func nullFlag(v int8) any {
	if v < 0 {
		return nil
	}
	return v == 1
}

// Variable ids are allocated by hand, under a lock that lets readers through but queues
// other census loads, so the ids of one load are consecutive.
const lockCensusSQL = `LOCK TABLE census_variables IN EXCLUSIVE MODE`

const nextVariableIDSQL = `SELECT coalesce(max(id), 0) + 1 FROM census_variables`

// The rows of the loads a new load replaces; the variables follow.
const deleteCensusRowsSQL = `DELETE FROM census_rows r USING datasets d
WHERE r.dataset_id = d.id AND d.kind = $1 AND d.scope = $2`

const deleteCensusScopeSQL = `DELETE FROM census_variables v USING datasets d
WHERE v.dataset_id = d.id AND d.kind = $1 AND d.scope = $2`

const insertCensusVariablesSQL = `INSERT INTO census_variables (id, dataset_id, theme, vintage, name, kind, position, idx)
SELECT $1 + t.ord - 1, $2, $3, t.vintage, t.name, t.kind, t.position, t.ord
FROM unnest($4::int[], $5::text[], $6::text[], $7::int[]) WITH ORDINALITY AS t(vintage, name, kind, position, ord)`

const createIRISStageSQL = `CREATE TEMP TABLE iris_stage (code text, com text, typ_iris text, lab_iris text) ON COMMIT DROP`

// An IRIS keeps the reference of the latest census vintage loaded: loading 2010 after
// 2015 leaves the 2015 TYP_IRIS in place.
const upsertIRISSQL = `INSERT INTO iris (dataset_id, code, com, typ_iris, lab_iris)
SELECT $1, code, com, typ_iris, lab_iris FROM iris_stage
ON CONFLICT (code) DO UPDATE SET dataset_id = excluded.dataset_id, com = excluded.com,
	typ_iris = excluded.typ_iris, lab_iris = excluded.lab_iris
WHERE NOT EXISTS (SELECT 1 FROM census_variables v WHERE v.dataset_id = iris.dataset_id AND v.vintage > $2)`

// LoadCensus loads an IRIS census base or a Filosofi IRIS income file, whose header r
// has read, replacing the previous load of the same kind and scope (theme/vintage). Each
// IRIS becomes one census_rows row whose array holds the file's values in column order
// (NULL for a value not available), by binary COPY. Census files also upsert the iris
// reference (COM, TYP_IRIS).
func (db *DB) LoadCensus(ctx context.Context, l Load, r *insee.CensusReader) (*ingest.Report, error) {
	return db.load(ctx, l, func(ctx context.Context, tx pgx.Tx, datasetID int64) (Loaded, error) {
		fail := func(what string, err error) (Loaded, error) {
			return Loaded{}, fmt.Errorf("postgres: census %s: %s: %w", l.File, what, translate(err))
		}
		n := len(r.Variables)
		var lo int32
		if _, err := tx.Exec(ctx, lockCensusSQL); err != nil {
			return fail("lock", err)
		}
		if err := tx.QueryRow(ctx, nextVariableIDSQL).Scan(&lo); err != nil {
			return fail("variables", err)
		}
		for _, q := range []string{deleteCensusRowsSQL, deleteCensusScopeSQL} {
			if _, err := tx.Exec(ctx, q, l.Kind, l.Scope); err != nil {
				return fail("delete", err)
			}
		}
		vintages, names, kinds, positions := make([]int32, n), make([]string, n), make([]string, n), make([]int32, n)
		for i, v := range r.Variables {
			vintages[i], names[i], kinds[i], positions[i] = int32(v.Vintage), v.Name, v.Kind, int32(v.Col)
		}
		if _, err := tx.Exec(ctx, insertCensusVariablesSQL, lo, datasetID, r.Theme, vintages, names, kinds, positions); err != nil {
			return fail("variables", err)
		}
		// The IRIS reference is small (one row per IRIS of France, ~50,000): kept aside
		// during the values COPY, then upserted through a staging table.
		type irisRef struct{ code, com, typ, lab string }
		var refs []irisRef
		var iris int64
		vals := make([]pgtype.Float8, n) // reused: CopyFrom encodes a row before asking for the next
		row := make([]any, 3)
		_, err := copyRows(ctx, tx, "census_rows", []string{"dataset_id", "iris", "vals"}, func() ([]any, error) {
			c, err := r.Next()
			if err != nil {
				return nil, err
			}
			iris++
			if r.Layout == insee.LayoutCensus { // Filosofi files carry no TYP_IRIS
				refs = append(refs, irisRef{c.IRIS, c.COM, c.TypIRIS, c.LabIRIS})
			}
			for j, v := range c.Values[:n] {
				vals[j] = pgtype.Float8{Float64: v, Valid: !math.IsNaN(v)}
			}
			row[0], row[1], row[2] = datasetID, c.IRIS, vals
			return row, nil
		})
		if err != nil {
			return Loaded{}, fmt.Errorf("postgres: census %s: %w", l.File, err)
		}
		if len(refs) > 0 {
			if _, err := tx.Exec(ctx, createIRISStageSQL); err != nil {
				return Loaded{}, fmt.Errorf("postgres: census %s: %w", l.File, err)
			}
			_, err := tx.CopyFrom(ctx, pgx.Identifier{"iris_stage"}, []string{"code", "com", "typ_iris", "lab_iris"},
				pgx.CopyFromSlice(len(refs), func(i int) ([]any, error) {
					return []any{refs[i].code, refs[i].com, refs[i].typ, refs[i].lab}, nil
				}))
			if err != nil {
				return Loaded{}, fmt.Errorf("postgres: census %s: iris: %w", l.File, err)
			}
			if _, err := tx.Exec(ctx, upsertIRISSQL, datasetID, r.Vintage); err != nil {
				return Loaded{}, fmt.Errorf("postgres: census %s: iris: %w", l.File, err)
			}
		}
		return Loaded{Rows: iris, Layout: r.Layout, Warnings: r.Warnings}, nil
	})
}

var gridColumns = append([]string{"dataset_id", "vintage", "id", "srid", "size", "northing", "easting",
	"id_1km", "id_nat", "i_est_200", "i_est_1km", "lcog_geo", "communes"}, append(insee.GridVariables[:], "extra")...)

// gridPartitionsSQL finds the partition holding a vintage, to be replaced.
const gridPartitionsSQL = `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
WHERE i.inhparent = 'grid_cells'::regclass AND pg_get_expr(c.relpartbound, c.oid) = $1`

// LoadGrid loads a Filosofi grid file of the given vintage, replacing that vintage. Rows
// go by binary COPY straight into grid_cells, whose WGS84 polygon PostGIS generates from
// the corner and size parsed from each cell id.
func (db *DB) LoadGrid(ctx context.Context, l Load, vintage int, r *insee.GridReader) (*ingest.Report, error) {
	return db.load(ctx, l, func(ctx context.Context, tx pgx.Tx, datasetID int64) (Loaded, error) {
		fail := func(what string, err error) (Loaded, error) {
			return Loaded{}, fmt.Errorf("postgres: grid %s: %s: %w", l.File, what, copyError(err))
		}
		var old []string
		rows, err := tx.Query(ctx, gridPartitionsSQL, fmt.Sprintf("FOR VALUES IN (%d)", vintage))
		if err == nil {
			old, err = pgx.CollectRows(rows, pgx.RowTo[string])
		}
		if err != nil {
			return fail("partitions", err)
		}
		// Identifiers built from integers only: nothing from the file reaches the SQL text.
		part := fmt.Sprintf("grid_cells_%d_%d", vintage, datasetID)
		if _, err := tx.Exec(ctx, fmt.Sprintf(`CREATE TABLE %s (LIKE grid_cells INCLUDING DEFAULTS INCLUDING GENERATED,
			CHECK (vintage = %d))`, part, vintage)); err != nil {
			return fail("partition", err)
		}
		vals := make([]any, len(gridColumns))
		nv := len(insee.GridVariables)
		n, err := copyRows(ctx, tx, part, gridColumns, func() ([]any, error) {
			c, err := r.Next()
			if err != nil {
				return nil, err
			}
			vals[0], vals[1], vals[2], vals[3], vals[4], vals[5], vals[6] = datasetID, int32(vintage), c.ID, int32(c.SRID), int32(c.Size), int32(c.Northing), int32(c.Easting)
			vals[7], vals[8], vals[9], vals[10], vals[11], vals[12] = nullString(c.ID1km), nullString(c.IDNat), nullFlag(c.IEst200), nullFlag(c.IEst1km), c.LcogGeo, c.Communes
			for i, v := range c.Vars {
				vals[13+i] = nullFloat(v)
			}
			if c.Extra != nil {
				vals[13+nv] = c.Extra
			} else {
				vals[13+nv] = nil
			}
			return vals, nil
		})
		if err != nil {
			return Loaded{}, fmt.Errorf("postgres: grid %s: %w", l.File, err)
		}
		// The CHECK lets ATTACH skip its validation scan; the indexes built here are
		// adopted by the partitioned indexes of grid_cells.
		stmts := []string{`SET LOCAL maintenance_work_mem = '512MB'`,
			fmt.Sprintf(`ALTER TABLE %s ADD PRIMARY KEY (vintage, id)`, part),
			fmt.Sprintf(`CREATE INDEX ON %s USING gist (geom)`, part),
			fmt.Sprintf(`CREATE INDEX ON %s USING gin (communes)`, part)}
		for _, o := range old {
			stmts = append(stmts, `DROP TABLE `+pgx.Identifier{o}.Sanitize())
		}
		stmts = append(stmts, fmt.Sprintf(`ALTER TABLE grid_cells ATTACH PARTITION %s FOR VALUES IN (%d)`, part, vintage))
		for _, q := range stmts {
			if _, err := tx.Exec(ctx, q); err != nil {
				return fail("index", err)
			}
		}
		return Loaded{Rows: n, Layout: r.Layout}, nil
	})
}

const createCOGStageSQL = `CREATE TEMP TABLE cog_stage (
	code text, name text, type text, dept text, region text, zone text, parent text,
	population bigint, former_codes text[], postcodes text[]) ON COMMIT DROP`

// Communes are upserted, then those absent from the new list deleted, rather than all
// deleted and reinserted: other tables may reference communes (code).
const mergeCommunesSQL = `INSERT INTO communes (dataset_id, code, name, type, dept, region, zone, parent, population, former_codes, postcodes)
SELECT $1, code, name, type, dept, region, zone, parent, population, coalesce(former_codes, '{}'), coalesce(postcodes, '{}')
FROM cog_stage WHERE type IN ('COM', 'ARM')
ON CONFLICT (code) DO UPDATE SET dataset_id = excluded.dataset_id, name = excluded.name, type = excluded.type,
	dept = excluded.dept, region = excluded.region, zone = excluded.zone, parent = excluded.parent,
	population = excluded.population, former_codes = excluded.former_codes, postcodes = excluded.postcodes`

const deleteGoneCommunesSQL = `DELETE FROM communes c WHERE NOT EXISTS
	(SELECT 1 FROM cog_stage s WHERE s.code = c.code AND s.type IN ('COM', 'ARM'))`

const insertCommunePartsSQL = `INSERT INTO commune_parts (dataset_id, code, type, name, parent, dept, region, former_codes)
SELECT $1, code, type, name, parent, dept, region, coalesce(former_codes, '{}') FROM cog_stage WHERE type IN ('COMD', 'COMA')`

// LoadCommunes loads a COG commune list (INSEE CSV or etalab JSON) into communes and
// commune_parts, replacing the previous list.
func (db *DB) LoadCommunes(ctx context.Context, l Load, r *insee.COGReader) (*ingest.Report, error) {
	return db.load(ctx, l, func(ctx context.Context, tx pgx.Tx, datasetID int64) (Loaded, error) {
		if _, err := tx.Exec(ctx, createCOGStageSQL); err != nil {
			return Loaded{}, fmt.Errorf("postgres: communes %s: %w", l.File, err)
		}
		// Codes are checked here, not by the merge, so a duplicate names its line.
		type key struct{ code, typ string }
		seen := map[key]int64{}
		vals := make([]any, 10)
		n, err := copyRows(ctx, tx, "cog_stage", []string{"code", "name", "type", "dept", "region", "zone", "parent", "population", "former_codes", "postcodes"},
			func() ([]any, error) {
				c, err := r.Next()
				if err != nil {
					return nil, err
				}
				k := key{c.Code, c.Type}
				if k.typ == insee.TypeArrondissement {
					k.typ = insee.TypeCommune // one code space for communes and arrondissements
				}
				if prev, dup := seen[k]; dup {
					return nil, &ingest.ParseError{File: l.File, Line: c.Line, Err: fmt.Errorf("commune %s (%s) already listed at %d", c.Code, c.Type, prev)}
				}
				seen[k] = c.Line
				var pop any
				if c.Population >= 0 {
					pop = c.Population
				}
				vals[0], vals[1], vals[2], vals[3], vals[4], vals[5], vals[6], vals[7], vals[8], vals[9] =
					c.Code, c.Name, c.Type, nullString(c.Dept), nullString(c.Region), nullString(c.Zone), nullString(c.Parent), pop, c.FormerCodes, c.Postcodes
				return vals, nil
			})
		if err != nil {
			return Loaded{}, fmt.Errorf("postgres: communes %s: %w", l.File, err)
		}
		for _, q := range []string{mergeCommunesSQL, deleteGoneCommunesSQL, `DELETE FROM commune_parts`, insertCommunePartsSQL} {
			var args []any
			if q == mergeCommunesSQL || q == insertCommunePartsSQL {
				args = []any{datasetID}
			}
			if _, err := tx.Exec(ctx, q, args...); err != nil {
				return Loaded{}, fmt.Errorf("postgres: communes %s: %w", l.File, translate(err))
			}
		}
		return Loaded{Rows: n, Layout: r.Layout}, nil
	})
}

const createDeptStageSQL = `CREATE TEMP TABLE dept_stage (code text, name text, region text, zone text, chef_lieu text) ON COMMIT DROP`

const mergeDepartementsSQL = `INSERT INTO departements (dataset_id, code, name, region, zone, chef_lieu)
SELECT $1, code, name, region, zone, chef_lieu FROM dept_stage
ON CONFLICT (code) DO UPDATE SET dataset_id = excluded.dataset_id, name = excluded.name,
	region = excluded.region, zone = excluded.zone, chef_lieu = excluded.chef_lieu`

// LoadDepartements loads an etalab departements.json, replacing the previous list.
func (db *DB) LoadDepartements(ctx context.Context, l Load, r *insee.COGReader) (*ingest.Report, error) {
	return db.load(ctx, l, func(ctx context.Context, tx pgx.Tx, datasetID int64) (Loaded, error) {
		if _, err := tx.Exec(ctx, createDeptStageSQL); err != nil {
			return Loaded{}, fmt.Errorf("postgres: departements %s: %w", l.File, err)
		}
		seen := map[string]bool{}
		var line int64
		n, err := copyRows(ctx, tx, "dept_stage", []string{"code", "name", "region", "zone", "chef_lieu"}, func() ([]any, error) {
			d, err := r.NextDepartement()
			if err != nil {
				return nil, err
			}
			line++
			if seen[d.Code] {
				return nil, &ingest.ParseError{File: l.File, Line: line, Err: fmt.Errorf("département %s listed twice", d.Code)}
			}
			seen[d.Code] = true
			return []any{d.Code, d.Name, nullString(d.Region), nullString(d.Zone), nullString(d.ChefLieu)}, nil
		})
		if err != nil {
			return Loaded{}, fmt.Errorf("postgres: departements %s: %w", l.File, err)
		}
		if _, err := tx.Exec(ctx, mergeDepartementsSQL, datasetID); err != nil {
			return Loaded{}, fmt.Errorf("postgres: departements %s: %w", l.File, err)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM departements d WHERE NOT EXISTS (SELECT 1 FROM dept_stage s WHERE s.code = d.code)`); err != nil {
			return Loaded{}, fmt.Errorf("postgres: departements %s: %w", l.File, err)
		}
		return Loaded{Rows: n, Layout: r.Layout}, nil
	})
}

var addressColumns = []string{"dataset_id", "dept", "id", "numero", "rep", "nom_voie", "code_postal",
	"code_insee", "nom_commune", "lon", "lat", "certification"}

// LoadAddresses loads a BAN file, replacing the addresses of its département only. The
// point geometry is generated by PostGIS from lon and lat.
func (db *DB) LoadAddresses(ctx context.Context, l Load, r *insee.AddressReader) (*ingest.Report, error) {
	return db.load(ctx, l, func(ctx context.Context, tx pgx.Tx, datasetID int64) (Loaded, error) {
		if _, err := tx.Exec(ctx, `DELETE FROM addresses WHERE dept = $1`, r.Dept); err != nil {
			return Loaded{}, fmt.Errorf("postgres: addresses %s: delete: %w", l.File, err)
		}
		vals := make([]any, len(addressColumns))
		n, err := copyRows(ctx, tx, "addresses", addressColumns, func() ([]any, error) {
			a, err := r.Next()
			if err != nil {
				return nil, err
			}
			var num any
			if a.Numero >= 0 {
				num = a.Numero
			}
			vals[0], vals[1], vals[2], vals[3], vals[4], vals[5] = datasetID, r.Dept, a.ID, num, a.Rep, a.NomVoie
			vals[6], vals[7], vals[8], vals[9], vals[10], vals[11] = a.CodePostal, a.CodeInsee, a.NomCommune, nullFloat(a.Lon), nullFloat(a.Lat), nullFlag(a.Certification)
			return vals, nil
		})
		if err != nil {
			return Loaded{}, fmt.Errorf("postgres: addresses %s: %w", l.File, err)
		}
		return Loaded{Rows: n, Layout: "ban"}, nil
	})
}
