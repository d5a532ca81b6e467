package postgres

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/paulmach/orb/encoding/wkb"

	"github.com/coopol/coopol/internal/crosstab"
	"github.com/coopol/coopol/internal/projection"
)

// ApportionStats reports what Apportion did, phase by phase.
type ApportionStats struct {
	ContourVintage string  `json:"contour_vintage"`
	IRISVintage    string  `json:"iris_vintage,omitempty"`
	GridVintage    string  `json:"grid_vintage,omitempty"`
	Unchanged      bool    `json:"unchanged"` // nothing was stale
	Bureaux        int     `json:"bureaux"`
	IRIS           int     `json:"iris"`
	Cells          int     `json:"cells"`
	IRISPairs      int     `json:"iris_pairs"`
	CellPairs      int     `json:"cell_pairs"`
	GridSeconds    float64 `json:"grid_seconds"`    // read cells, clip them by bureaux, store weights
	IRISSeconds    float64 `json:"iris_seconds"`    // what the IRIS add after the grid: dasymetric weights, store
	OverlapSeconds float64 `json:"overlap_seconds"` // read IRIS and their exact overlaps, during the grid phase
	ProfileSeconds float64 `json:"profile_seconds"` // counts per bureau
	GridCovered    float64 `json:"grid_covered"`    // share of grid population given to a bureau
}

// ApportionOptions tunes Apportion; the zero value is the normal behaviour.
type ApportionOptions struct {
	Force   bool // recompute even when nothing changed
	Workers int  // goroutines for geometry; 0 means GOMAXPROCS
	Logger  *slog.Logger
}

// apportionInputs names the current datasets behind a run, to tell when it is stale.
type apportionInputs map[string][]int64

const latestVintagesSQL = `SELECT
  (SELECT max(vintage) FROM bureau_contours),
  (SELECT max(vintage) FROM iris_contours),
  (SELECT max(vintage)::text FROM grid_cells)`

const inputsSQL = `SELECT
  (SELECT coalesce(array_agg(DISTINCT dataset_id ORDER BY dataset_id), '{}') FROM bureau_contours WHERE vintage = $1),
  (SELECT coalesce(array_agg(DISTINCT dataset_id ORDER BY dataset_id), '{}') FROM iris_contours WHERE vintage = $2),
  (SELECT coalesce(array_agg(d), '{}') FROM (SELECT dataset_id d FROM grid_cells WHERE vintage = $3::int LIMIT 1) g),
  (SELECT coalesce(array_agg(DISTINCT dataset_id ORDER BY dataset_id), '{}') FROM census_variables)`

// Apportion recomputes what is stale: the weights of the latest IRIS and grid vintages
// onto the latest bureau contours, when one of their datasets changed, then the bureau
// profiles. It is idempotent, and cheap (a few small queries) when nothing changed, so
// it may run after every ingestion.
func (db *DB) Apportion(ctx context.Context) (ApportionStats, error) {
	return db.ApportionWith(ctx, ApportionOptions{})
}

// ApportionWith is Apportion with options.
func (db *DB) ApportionWith(ctx context.Context, o ApportionOptions) (ApportionStats, error) {
	var st ApportionStats
	if o.Workers <= 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	// One apportionment at a time: a second caller waits, then finds nothing stale.
	conn, err := db.pool.Acquire(ctx)
	if err != nil {
		return st, fmt.Errorf("postgres: apportion: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock(7326010)`); err != nil {
		return st, fmt.Errorf("postgres: apportion: lock: %w", err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock(7326010)`)

	var cv, iv, gv *string
	if err := db.pool.QueryRow(ctx, latestVintagesSQL).Scan(&cv, &iv, &gv); err != nil {
		return st, fmt.Errorf("postgres: apportion: %w", err)
	}
	if cv == nil {
		// Nothing to apportion onto yet: ingest calls this after every load, communes
		// and IRIS often coming before the contours.
		st.Unchanged = true
		return st, nil
	}
	st.ContourVintage = *cv
	ivs, gvs := deref(iv), deref(gv)
	st.IRISVintage, st.GridVintage = ivs, gvs
	var contourIDs, irisIDs, gridIDs, censusIDs []int64
	if err := db.pool.QueryRow(ctx, inputsSQL, *cv, ivs, nullIfEmpty(gvs)).Scan(&contourIDs, &irisIDs, &gridIDs, &censusIDs); err != nil {
		return st, fmt.Errorf("postgres: apportion: inputs: %w", err)
	}
	gridIn := apportionInputs{"contours": contourIDs, "grid": gridIDs}
	irisIn := apportionInputs{"contours": contourIDs, "iris": irisIDs, "grid": gridIDs}
	profIn := apportionInputs{"contours": contourIDs, "iris": irisIDs, "grid": gridIDs, "census": censusIDs}
	gridStale := gvs != "" && (o.Force || db.stale(ctx, "grid", gvs, *cv, gridIn))
	irisStale := ivs != "" && (o.Force || db.stale(ctx, "iris", ivs, *cv, irisIn))
	profStale := o.Force || gridStale || irisStale || db.stale(ctx, "profile", "", *cv, profIn)
	if !profStale {
		st.Unchanged = true
		return st, nil
	}
	var gridSums map[string][]float64
	if gvs != "" && !gridStale {
		// The grid weights are current: their counts per bureau were stored with them.
		if gridSums, err = db.gridCounts(ctx, gvs, *cv); err != nil {
			return st, err
		}
		gridStale = gridSums == nil // a run from before grid_counts: compute it again
	}
	if gridStale || irisStale {
		sums, err := db.apportionGeometry(ctx, o, &st, gridStale, irisStale, gridIn, irisIn)
		if err != nil {
			return st, err
		}
		if gridStale {
			gridSums = sums
		}
	}
	start := time.Now()
	if err := db.buildProfiles(ctx, *cv, ivs, gvs, profIn, gridSums); err != nil {
		return st, err
	}
	st.ProfileSeconds = time.Since(start).Seconds()
	o.Logger.InfoContext(ctx, "apportion", "contour_vintage", *cv, "iris_vintage", ivs, "grid_vintage", gvs,
		"grid_s", st.GridSeconds, "iris_s", st.IRISSeconds, "profile_s", st.ProfileSeconds)
	return st, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// stale reports whether the run of (source, vintages) was computed from other inputs.
func (db *DB) stale(ctx context.Context, source, sv, cv string, in apportionInputs) bool {
	var raw []byte
	err := db.pool.QueryRow(ctx, `SELECT inputs FROM apportion_runs WHERE source = $1 AND source_vintage = $2 AND contour_vintage = $3`,
		source, sv, cv).Scan(&raw)
	if err != nil {
		return true
	}
	var have apportionInputs
	if json.Unmarshal(raw, &have) != nil {
		return true
	}
	return !maps.EqualFunc(have, in, slices.Equal)
}

// profileGridColumns are the grid_cells columns the profiles use, in crosstab's grid-count order.
var profileGridColumns = []string{"ind", "men", "men_pauv", "men_prop", "men_1ind", "men_fmp", "ind_snv", "log_soc",
	"ind_0_3", "ind_4_5", "ind_6_10", "ind_11_17", "ind_18_24", "ind_65_79", "ind_80p"}

// gridCells holds a vintage's cells in memory: squares in EPSG:3035 and their values.
type gridCells struct {
	cells []crosstab.Cell
	pop   []float64 // ind; a NULL is 0
	// Read only when the grid weights are recomputed:
	ids     []string
	values  []float64 // len(profileGridColumns) per cell, in that order; a NULL is 0
	imputed []bool
}

// value returns column k (profileGridColumns order) of cell c.
func (g *gridCells) value(c int32, k int) float64 { return g.values[int(c)*len(profileGridColumns)+k] }

// readGrid reads the cells of a vintage: with full, everything the grid weights and
// counts need; else their squares and population only, for the IRIS weights (a third
// of the time: PostgreSQL reads the wide rows' last columns slowly).
func (db *DB) readGrid(ctx context.Context, vintage string, full bool) (*gridCells, error) {
	q := `SELECT size, easting, northing, coalesce(ind, 0)::float8`
	nv := 0
	if full {
		q += `, id, coalesce(i_est_200, false)`
		for _, c := range profileGridColumns {
			q += ", coalesce(" + c + ", 0)::float8"
		}
		nv = len(profileGridColumns)
	}
	// Cells of other grids (UTM in Martinique and Réunion) are not squares in EPSG:3035;
	// docs/apportionment.md lists them as a limit.
	q += ` FROM grid_cells WHERE vintage = $1::int AND srid = 3035`
	rows, err := db.pool.Query(ctx, q, vintage)
	if err != nil {
		return nil, fmt.Errorf("postgres: apportion: grid: %w", err)
	}
	defer rows.Close()
	g := &gridCells{}
	// 2.6 million rows: the binary values are decoded here, without a Scan per row
	// (which took 7 of the 8 s of reading the grid).
	want := []uint32{pgtype.Int4OID, pgtype.Int4OID, pgtype.Int4OID, pgtype.Float8OID}
	if full {
		want = append(want, pgtype.TextOID, pgtype.BoolOID)
		for range profileGridColumns {
			want = append(want, pgtype.Float8OID)
		}
	}
	fd := rows.FieldDescriptions()
	fast := len(fd) == len(want)
	for i, f := range fd {
		// Text reads the same in either format.
		fast = fast && f.DataTypeOID == want[i] && (f.Format == pgx.BinaryFormatCode || want[i] == pgtype.TextOID)
	}
	vals := make([]float64, nv)
	for rows.Next() {
		var id string
		var size, e, n int32
		var ind float64
		var imp bool
		raw := rows.RawValues()
		if ok := fast && len(raw) == len(want) && len(raw[0]) == 4 && len(raw[1]) == 4 && len(raw[2]) == 4 && len(raw[3]) == 8; ok {
			size, e, n = int32(be.Uint32(raw[0])), int32(be.Uint32(raw[1])), int32(be.Uint32(raw[2]))
			ind = math.Float64frombits(be.Uint64(raw[3]))
			if full {
				if raw[4] == nil || len(raw[5]) != 1 {
					return nil, fmt.Errorf("postgres: apportion: grid: bad row")
				}
				id, imp = string(raw[4]), raw[5][0] != 0
				for i := range vals {
					if len(raw[6+i]) != 8 {
						return nil, fmt.Errorf("postgres: apportion: grid %s: bad value", id)
					}
					vals[i] = math.Float64frombits(be.Uint64(raw[6+i]))
				}
			}
		} else {
			dst := []any{&size, &e, &n, &ind}
			if full {
				dst = append(dst, &id, &imp)
				for i := range vals {
					dst = append(dst, &vals[i])
				}
			}
			if err := rows.Scan(dst...); err != nil {
				return nil, fmt.Errorf("postgres: apportion: grid: %w", err)
			}
		}
		g.cells = append(g.cells, crosstab.Cell{E: float64(e), N: float64(n), Size: float64(size)})
		g.pop = append(g.pop, ind)
		if full {
			g.ids = append(g.ids, id)
			g.values = append(g.values, vals...)
			g.imputed = append(g.imputed, imp)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: apportion: grid: %w", err)
	}
	return g, nil
}

var be = binary.BigEndian

// readShapes reads polygons as WKB and projects them to EPSG:3035 on workers goroutines.
func (db *DB) readShapes(ctx context.Context, sql, vintage string, workers int) ([]crosstab.Shape, error) {
	rows, err := db.pool.Query(ctx, sql, vintage)
	if err != nil {
		return nil, fmt.Errorf("postgres: apportion: shapes: %w", err)
	}
	defer rows.Close()
	var codes []string
	var wkbs [][]byte
	for rows.Next() {
		var code string
		var b []byte
		if err := rows.Scan(&code, &b); err != nil {
			return nil, fmt.Errorf("postgres: apportion: shapes: %w", err)
		}
		codes, wkbs = append(codes, code), append(wkbs, b)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: apportion: shapes: %w", err)
	}
	out := make([]crosstab.Shape, len(codes))
	errs := make([]error, len(codes))
	p := projection.NewLAEA3035()
	var wg sync.WaitGroup
	for w := range max(workers, 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(codes); i += max(workers, 1) {
				g, err := wkb.Unmarshal(wkbs[i])
				if err != nil {
					errs[i] = fmt.Errorf("postgres: apportion: %s: %w", codes[i], err)
					continue
				}
				out[i] = crosstab.NewShape(codes[i], g, p)
				wkbs[i] = nil
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

const bureauShapesSQL = `SELECT code, ST_AsBinary(geom) FROM bureau_contours WHERE vintage = $1 ORDER BY code`
const irisShapesSQL = `SELECT code, ST_AsBinary(geom) FROM iris_contours WHERE vintage = $1 ORDER BY code`

// dasymetricSamples is the side of the lattice sampling a cell split by borders: 8 × 8
// points, one per 25 m square of a 200 m cell.
const dasymetricSamples = 8

// apportionGeometry computes and stores the stale weights; when the grid's are, it
// returns the grid counts per bureau (in crosstab.Counts order, grid keys only), also
// stored in grid_counts.
func (db *DB) apportionGeometry(ctx context.Context, o ApportionOptions, st *ApportionStats, gridStale, irisStale bool, gridIn, irisIn apportionInputs) (map[string][]float64, error) {
	cv := st.ContourVintage
	start := time.Now()
	lap := start
	phase := func(name string) {
		o.Logger.DebugContext(ctx, "apportion phase", "phase", name, "seconds", time.Since(lap).Seconds())
		lap = time.Now()
	}
	bureaux, err := db.readShapes(ctx, bureauShapesSQL, cv, o.Workers)
	if err != nil {
		return nil, err
	}
	phase("read bureaux")
	st.Bureaux = len(bureaux)
	// The IRIS and their exact overlaps with bureaux do not need the grid: they are
	// computed here while the grid is read and its weights written, work that mostly
	// waits for the database. (Overlaps only adds bureaux' edge indexes, which
	// CellParts does not read.)
	type overlaps struct {
		iris    []crosstab.Shape
		pieces  []crosstab.Piece
		seconds float64
		err     error
	}
	var ov overlaps
	var wg sync.WaitGroup
	gctx, cancel := context.WithCancel(ctx)
	defer wg.Wait()
	defer cancel()
	if irisStale {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := time.Now()
			if ov.iris, ov.err = db.readShapes(gctx, irisShapesSQL, st.IRISVintage, o.Workers); ov.err != nil {
				return
			}
			ov.pieces, ov.err = crosstab.Overlaps(gctx, ov.iris, bureaux, o.Workers)
			ov.seconds = time.Since(t).Seconds()
		}()
	}
	// The grid: needed for its own weights and for the IRIS dasymetric weights.
	var grid *gridCells
	var bParts []crosstab.CellPart
	if st.GridVintage != "" {
		if grid, err = db.readGrid(ctx, st.GridVintage, gridStale); err != nil {
			return nil, err
		}
		st.Cells = len(grid.cells)
		phase("read grid")
		if bParts, err = crosstab.CellParts(ctx, grid.cells, bureaux, o.Workers); err != nil {
			return nil, err
		}
		phase("cell parts (bureaux)")
		st.CellPairs = len(bParts)
	}
	var sums map[string][]float64
	if gridStale {
		sums = gridSums(grid, bParts, bureaux)
	}
	var pop []float64 // the grid population, all that is kept of the values from here on
	if grid != nil {
		pop = grid.pop
		grid.values = nil // 300 MB at France scale
	}
	phase("grid sums")
	if gridStale {
		shares := crosstab.Shares(bParts, len(grid.cells))
		var given, total float64
		for i, p := range bParts {
			given += shares[i] * pop[p.Cell]
		}
		for c := range grid.cells {
			total += pop[c]
		}
		if total > 0 {
			st.GridCovered = given / total
		}
		keys := gridKeys()
		report := map[string]any{"cells": len(grid.cells), "pairs": len(bParts), "covered": st.GridCovered, "keys": keys}
		err := db.replaceRun(ctx, "grid", st.GridVintage, cv, gridIn, report, func(tx pgx.Tx, run int) error {
			var row []byte
			err := copyBinary(ctx, tx, `COPY grid_weights (run_id, cell, bureau, weight, area_m2) FROM STDIN (FORMAT binary)`, len(bParts), func(i int) []byte {
				p := bParts[i]
				row = append(row[:0], 0, 5)
				row = appendInt4(row, int32(run))
				row = appendText(row, grid.ids[p.Cell])
				row = appendText(row, bureaux[p.Shape].Code)
				row = appendFloat8(row, shares[i])
				row = appendFloat8(row, p.Area)
				return row
			})
			if err != nil {
				return err
			}
			codes := slices.Sorted(maps.Keys(sums))
			i := 0
			_, err = tx.CopyFrom(ctx, pgx.Identifier{"grid_counts"}, []string{"run_id", "bureau", "counts"},
				pgx.CopyFromFunc(func() ([]any, error) {
					if i == len(codes) {
						return nil, nil
					}
					i++
					return []any{run, codes[i-1], gridOnly(sums[codes[i-1]])}, nil
				}))
			return err
		})
		if err != nil {
			return nil, err
		}
		grid.ids = nil
		phase("store grid weights")
		st.GridSeconds = time.Since(start).Seconds()
	}
	if !irisStale {
		return sums, nil
	}
	// From here on, the time the IRIS weights add to the grid's.
	start = time.Now()
	wg.Wait()
	if ov.err != nil {
		return nil, ov.err
	}
	iris, pieces := ov.iris, ov.pieces
	st.IRIS = len(iris)
	st.OverlapSeconds = ov.seconds
	phase("wait for iris overlaps")
	if grid != nil {
		iParts, err := crosstab.CellParts(ctx, grid.cells, iris, o.Workers)
		if err != nil {
			return nil, err
		}
		phase("cell parts (iris)")
		if err := crosstab.Dasymetric(ctx, grid.cells, pop, iris, bureaux, iParts, bParts, pieces, dasymetricSamples, o.Workers); err != nil {
			return nil, err
		}
		phase("dasymetric")
	}
	ws := crosstab.PieceWeights(pieces, len(iris))
	st.IRISPairs = len(ws)
	report := map[string]any{"iris": len(iris), "pairs": len(ws)}
	err = db.replaceRun(ctx, "iris", st.IRISVintage, cv, irisIn, report, func(tx pgx.Tx, run int) error {
		var row []byte
		return copyBinary(ctx, tx, `COPY iris_weights (run_id, iris, bureau, area_weight, pop_weight, area_m2, pop) FROM STDIN (FORMAT binary)`, len(ws), func(i int) []byte {
			w := ws[i]
			row = append(row[:0], 0, 7)
			row = appendInt4(row, int32(run))
			row = appendText(row, iris[w.Source].Code)
			row = appendText(row, bureaux[w.Bureau].Code)
			for _, v := range []float64{w.Area, w.Pop, w.AreaM2, w.PopN} {
				row = appendFloat8(row, v)
			}
			return row
		})
	})
	if err != nil {
		return nil, err
	}
	phase("store iris weights")
	// The IRIS phase proper: the grid was read and clipped for the grid phase already,
	// and the overlaps computed meanwhile (OverlapSeconds).
	st.IRISSeconds = time.Since(start).Seconds()
	return sums, nil
}

// gridSums is Σ value × weight per bureau for the grid counts, as buildProfiles' SQL
// would compute it.
func gridSums(grid *gridCells, parts []crosstab.CellPart, bureaux []crosstab.Shape) map[string][]float64 {
	if grid == nil {
		return nil
	}
	col := map[string]int{}
	for i, c := range profileGridColumns {
		col[c] = i
	}
	keys := crosstab.Counts()
	shares := crosstab.Shares(parts, len(grid.cells))
	out := make(map[string][]float64, len(bureaux))
	for i, p := range parts {
		code := bureaux[p.Shape].Code
		v := out[code]
		if v == nil {
			v = make([]float64, len(keys))
			out[code] = v
		}
		for k, c := range keys {
			if c.Source != crosstab.FromGrid {
				continue
			}
			if c.Key == "grid_ind_imputed" && !grid.imputed[p.Cell] {
				continue
			}
			for _, name := range c.Vars {
				v[k] += shares[i] * grid.value(p.Cell, col[name])
			}
		}
	}
	return out
}

// replaceRun replaces the run of (source, vintages) in one transaction: the old
// weights go with their run (ON DELETE CASCADE), fill writes the new ones.
func (db *DB) replaceRun(ctx context.Context, source, sv, cv string, in apportionInputs, report map[string]any, fill func(tx pgx.Tx, run int) error) error {
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("postgres: apportion %s: %w", source, err)
	}
	defer tx.Rollback(ctx)
	// grid_weights has no foreign key (0013_apportion_perf.sql): its rows go first.
	// When they all belong to the run replaced, as with one grid and one contour
	// vintage, the table is emptied at once (no 3.8 million dead rows to vacuum) and its
	// index built once after the copy rather than row by row: 8 s become 3.5 s.
	reindex := false
	if source == "grid" {
		var others bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT FROM apportion_runs WHERE source = 'grid'
			AND NOT (source_vintage = $1 AND contour_vintage = $2))`, sv, cv).Scan(&others); err != nil {
			return fmt.Errorf("postgres: apportion %s: %w", source, err)
		}
		reindex = !others
		sql := `DELETE FROM grid_weights WHERE run_id = ANY (ARRAY(
			SELECT id FROM apportion_runs WHERE source = 'grid' AND source_vintage = $1 AND contour_vintage = $2))`
		if reindex {
			sql = `TRUNCATE grid_weights; DROP INDEX grid_weights_run`
		}
		args := []any{sv, cv}
		if reindex {
			args = nil // several statements: the simple protocol, without arguments
		}
		if _, err := tx.Exec(ctx, sql, args...); err != nil {
			return fmt.Errorf("postgres: apportion %s: %w", source, err)
		}
	}
	if _, err := tx.Exec(ctx, `DELETE FROM apportion_runs WHERE source = $1 AND source_vintage = $2 AND contour_vintage = $3`, source, sv, cv); err != nil {
		return fmt.Errorf("postgres: apportion %s: %w", source, err)
	}
	var run int
	if err := tx.QueryRow(ctx, `INSERT INTO apportion_runs (source, source_vintage, contour_vintage, inputs, report)
		VALUES ($1, $2, $3, $4, $5) RETURNING id`, source, sv, cv, in, report).Scan(&run); err != nil {
		return fmt.Errorf("postgres: apportion %s: %w", source, err)
	}
	if fill != nil {
		if err := fill(tx, run); err != nil {
			return fmt.Errorf("postgres: apportion %s: %w", source, err)
		}
	}
	if reindex {
		if _, err := tx.Exec(ctx, `CREATE INDEX grid_weights_run ON grid_weights (run_id)`); err != nil {
			return fmt.Errorf("postgres: apportion %s: %w", source, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("postgres: apportion %s: commit: %w", source, err)
	}
	return nil
}

// buildProfiles computes every bureau's counts from the stored weights: census
// variables through the IRIS weights (population and area), grid columns through the
// cell weights.
func (db *DB) buildProfiles(ctx context.Context, cv, iv, gv string, in apportionInputs, gridSums map[string][]float64) error {
	keys := crosstab.Counts()
	var codes []string
	idx := map[string]int{}
	var areas []float64
	{
		rows, err := db.pool.Query(ctx, `SELECT code, ST_Area(ST_Transform(geom, 3035)) FROM bureau_contours WHERE vintage = $1 ORDER BY code`, cv)
		if err != nil {
			return fmt.Errorf("postgres: profiles: %w", err)
		}
		for rows.Next() {
			var c string
			var a float64
			if err := rows.Scan(&c, &a); err != nil {
				rows.Close()
				return fmt.Errorf("postgres: profiles: %w", err)
			}
			idx[c] = len(codes)
			codes = append(codes, c)
			areas = append(areas, a)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("postgres: profiles: %w", err)
		}
	}
	pw := make([][]float64, len(codes)) // dasymetric
	aw := make([][]float64, len(codes)) // by area
	for i := range codes {
		pw[i] = make([]float64, len(keys))
		aw[i] = make([]float64, len(keys))
		for k := range keys {
			pw[i][k], aw[i][k] = math.NaN(), math.NaN()
		}
	}
	sources := map[string]string{}
	if err := db.censusCounts(ctx, cv, iv, keys, idx, pw, aw, sources); err != nil {
		return err
	}
	if gv != "" {
		for ci, c := range keys {
			if c.Source != crosstab.FromGrid {
				continue
			}
			sources[c.Key] = "grid_cells." + fmt.Sprint(c.Vars)
			for b, code := range codes {
				v := 0.0
				if s := gridSums[code]; s != nil {
					v = s[ci]
				}
				pw[b][ci], aw[b][ci] = v, v
			}
		}
	}
	tx, err := db.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("postgres: profiles: %w", err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `DELETE FROM bureau_profiles WHERE contour_vintage = $1`, cv); err != nil {
		return fmt.Errorf("postgres: profiles: %w", err)
	}
	i := 0
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"bureau_profiles"}, []string{"contour_vintage", "bureau", "area_m2", "counts", "counts_area"},
		pgx.CopyFromFunc(func() ([]any, error) {
			if i == len(codes) {
				return nil, nil
			}
			i++
			return []any{cv, codes[i-1], areas[i-1], pw[i-1], aw[i-1]}, nil
		})); err != nil {
		return fmt.Errorf("postgres: profiles: %w", err)
	}
	names := make([]string, len(keys))
	for k, c := range keys {
		names[k] = c.Key
	}
	if _, err := tx.Exec(ctx, `INSERT INTO profile_columns (contour_vintage, keys, sources) VALUES ($1, $2, $3)
		ON CONFLICT (contour_vintage) DO UPDATE SET keys = $2, sources = $3, computed_at = now()`, cv, names, sources); err != nil {
		return fmt.Errorf("postgres: profiles: %w", err)
	}
	if _, err := tx.Exec(ctx, `DELETE FROM apportion_runs WHERE source = 'profile' AND contour_vintage = $1`, cv); err != nil {
		return fmt.Errorf("postgres: profiles: %w", err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO apportion_runs (source, source_vintage, contour_vintage, inputs) VALUES ('profile', '', $1, $2)`, cv, in); err != nil {
		return fmt.Errorf("postgres: profiles: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("postgres: profiles: commit: %w", err)
	}
	return nil
}

const censusVarsSQL = `SELECT id, name, vintage FROM census_variables ORDER BY id`

// censusCounts adds the census counts: Σ over IRIS of value × weight. Intensive IRIS
// variables (medians, rates) enter as value × IRIS population, so that dividing by the
// apportioned population gives a population-weighted mean.
func (db *DB) censusCounts(ctx context.Context, cv, iv string, keys []crosstab.Count, idx map[string]int, pw, aw [][]float64, sources map[string]string) error {
	if iv == "" {
		return nil
	}
	rows, err := db.pool.Query(ctx, censusVarsSQL)
	if err != nil {
		return fmt.Errorf("postgres: profiles: %w", err)
	}
	vars, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (crosstab.CensusVar, error) {
		var v crosstab.CensusVar
		err := r.Scan(&v.ID, &v.Name, &v.Vintage)
		return v, err
	})
	if err != nil {
		return fmt.Errorf("postgres: profiles: %w", err)
	}
	match := crosstab.MatchCensus(vars)
	if len(match) == 0 {
		return nil
	}
	popVar, hasPop := match[crosstab.CountIndex("pop")]
	byVar := map[int][]int{} // variable id → count indices
	var ids []int32
	for ci, id := range match {
		if len(byVar[id]) == 0 {
			ids = append(ids, int32(id))
		}
		byVar[id] = append(byVar[id], ci)
		for _, v := range vars {
			if v.ID == id {
				sources[keys[ci].Key] = v.Name
			}
		}
	}
	if hasPop && len(byVar[popVar]) == 0 {
		ids = append(ids, int32(popVar))
	}
	// Per IRIS: its values by variable id.
	vals := map[string]map[int]float64{}
	rows, err = db.pool.Query(ctx, `SELECT iris, variable_id, value FROM census_values WHERE variable_id = ANY($1)`, ids)
	if err != nil {
		return fmt.Errorf("postgres: profiles: census: %w", err)
	}
	for rows.Next() {
		var iris string
		var id int
		var v float64
		if err := rows.Scan(&iris, &id, &v); err != nil {
			rows.Close()
			return fmt.Errorf("postgres: profiles: census: %w", err)
		}
		m := vals[iris]
		if m == nil {
			m = map[int]float64{}
			vals[iris] = m
		}
		m[id] = v
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("postgres: profiles: census: %w", err)
	}
	// Counts fed by some variable start at 0 for every bureau, so a bureau outside
	// every IRIS reads 0, not "no source".
	for ci := range match {
		for b := range pw {
			pw[b][ci], aw[b][ci] = 0, 0
		}
	}
	rows, err = db.pool.Query(ctx, `SELECT w.iris, w.bureau, w.pop_weight, w.area_weight FROM iris_weights w
		JOIN apportion_runs r ON r.id = w.run_id WHERE r.source = 'iris' AND r.source_vintage = $1 AND r.contour_vintage = $2`, iv, cv)
	if err != nil {
		return fmt.Errorf("postgres: profiles: weights: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var iris, bureau string
		var wp, wa float64
		if err := rows.Scan(&iris, &bureau, &wp, &wa); err != nil {
			return fmt.Errorf("postgres: profiles: weights: %w", err)
		}
		b, ok := idx[bureau]
		m := vals[iris]
		if !ok || m == nil {
			continue
		}
		for ci, id := range match {
			v, ok := m[id]
			if !ok {
				continue
			}
			if keys[ci].Source == crosstab.FromIRISPW {
				p, ok := m[popVar]
				if !hasPop || !ok {
					continue
				}
				v *= p
			}
			pw[b][ci] += v * wp
			aw[b][ci] += v * wa
		}
	}
	return rows.Err()
}

// gridKeys names the grid counts of crosstab.Counts, in order: the columns of grid_counts.counts.
func gridKeys() []string {
	var out []string
	for _, c := range crosstab.Counts() {
		if c.Source == crosstab.FromGrid {
			out = append(out, c.Key)
		}
	}
	return out
}

// gridOnly keeps the grid counts of a row in crosstab.Counts order.
func gridOnly(v []float64) []float64 {
	var out []float64
	for k, c := range crosstab.Counts() {
		if c.Source == crosstab.FromGrid {
			out = append(out, v[k])
		}
	}
	return out
}

const gridCountsSQL = `SELECT g.bureau, g.counts FROM grid_counts g JOIN apportion_runs r ON r.id = g.run_id
WHERE r.source = 'grid' AND r.source_vintage = $1 AND r.contour_vintage = $2 AND r.report->'keys' = $3::jsonb`

// gridCounts returns the grid counts per bureau stored with the current grid run, as
// gridSums computes them, or nil when that run has none or other keys.
func (db *DB) gridCounts(ctx context.Context, gv, cv string) (map[string][]float64, error) {
	keys := gridKeys()
	var has bool
	// Runs from before grid_counts have no keys in their report.
	if err := db.pool.QueryRow(ctx, `SELECT EXISTS (SELECT FROM apportion_runs WHERE source = 'grid' AND source_vintage = $1
		AND contour_vintage = $2 AND report->'keys' = $3::jsonb)`, gv, cv, keys).Scan(&has); err != nil {
		return nil, fmt.Errorf("postgres: profiles: grid counts: %w", err)
	}
	if !has {
		return nil, nil
	}
	rows, err := db.pool.Query(ctx, gridCountsSQL, gv, cv, keys)
	if err != nil {
		return nil, fmt.Errorf("postgres: profiles: grid counts: %w", err)
	}
	defer rows.Close()
	all := crosstab.Counts()
	out := map[string][]float64{}
	for rows.Next() {
		var code string
		var g []float64
		if err := rows.Scan(&code, &g); err != nil {
			return nil, fmt.Errorf("postgres: profiles: grid counts: %w", err)
		}
		v := make([]float64, len(all))
		j := 0
		for k, c := range all {
			if c.Source == crosstab.FromGrid && j < len(g) {
				v[k] = g[j]
				j++
			}
		}
		out[code] = v
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: profiles: grid counts: %w", err)
	}
	return out, nil
}

// copyBinary runs a COPY … FROM STDIN (FORMAT binary) of n rows, row(i) encoding row i
// (field count, then each field's length and bytes). Encoding the rows here is several
// times faster than pgx's CopyFrom, which boxes and encodes every value on its own.
func copyBinary(ctx context.Context, tx pgx.Tx, sql string, n int, row func(i int) []byte) error {
	r := &copyReader{n: n, row: row}
	r.buf = append(r.buf, "PGCOPY\n\xff\r\n\x00"...)
	r.buf = append(r.buf, 0, 0, 0, 0, 0, 0, 0, 0) // flags, header extension length
	_, err := tx.Conn().PgConn().CopyFrom(ctx, r, sql)
	return err
}

// copyReader encodes rows as the COPY stream is read, 64 kB at a time.
type copyReader struct {
	n, i int
	row  func(i int) []byte
	buf  []byte
	off  int
	done bool
}

func (r *copyReader) Read(p []byte) (int, error) {
	if r.off == len(r.buf) {
		if r.done {
			return 0, io.EOF
		}
		r.buf, r.off = r.buf[:0], 0
		for len(r.buf) < 64<<10 && r.i < r.n {
			r.buf = append(r.buf, r.row(r.i)...)
			r.i++
		}
		if r.i == r.n {
			r.buf = append(r.buf, 0xff, 0xff) // trailer
			r.done = true
		}
	}
	k := copy(p, r.buf[r.off:])
	r.off += k
	return k, nil
}

func appendInt4(b []byte, v int32) []byte { return be.AppendUint32(be.AppendUint32(b, 4), uint32(v)) }

func appendFloat8(b []byte, v float64) []byte {
	return be.AppendUint64(be.AppendUint32(b, 8), math.Float64bits(v))
}

func appendText(b []byte, s string) []byte { return append(be.AppendUint32(b, uint32(len(s))), s...) }
