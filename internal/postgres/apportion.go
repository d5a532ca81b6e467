package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"runtime"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/paulmach/orb/encoding/wkb"

	"github.com/coopol/coopol/internal/crosstab"
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
	IRISSeconds    float64 `json:"iris_seconds"`    // read IRIS, overlaps, dasymetric weights, store
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
		return st, fmt.Errorf("postgres: apportion: no bureau contours loaded")
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
	if gridStale || irisStale {
		if gridSums, err = db.apportionGeometry(ctx, o, &st, gridStale, irisStale, gridIn, irisIn); err != nil {
			return st, err
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
	ids     []string
	cells   []crosstab.Cell
	values  [][]float64 // per cell, profileGridColumns order; a NULL is 0
	imputed []bool
}

func (db *DB) readGrid(ctx context.Context, vintage string) (*gridCells, error) {
	q := `SELECT id, size, easting, northing, coalesce(i_est_200, false)`
	for _, c := range profileGridColumns {
		q += ", coalesce(" + c + ", 0)"
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
	for rows.Next() {
		var id string
		var size, e, n int32
		var imp bool
		vals := make([]float64, len(profileGridColumns))
		dst := []any{&id, &size, &e, &n, &imp}
		for i := range vals {
			dst = append(dst, &vals[i])
		}
		if err := rows.Scan(dst...); err != nil {
			return nil, fmt.Errorf("postgres: apportion: grid: %w", err)
		}
		g.ids = append(g.ids, id)
		g.cells = append(g.cells, crosstab.Cell{E: float64(e), N: float64(n), Size: float64(size)})
		g.values = append(g.values, vals)
		g.imputed = append(g.imputed, imp)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: apportion: grid: %w", err)
	}
	return g, nil
}

// readShapes reads polygons as WKB and projects them to EPSG:3035.
func (db *DB) readShapes(ctx context.Context, sql, vintage string) ([]crosstab.Shape, error) {
	rows, err := db.pool.Query(ctx, sql, vintage)
	if err != nil {
		return nil, fmt.Errorf("postgres: apportion: shapes: %w", err)
	}
	defer rows.Close()
	p := crosstab.NewLAEA3035()
	var out []crosstab.Shape
	for rows.Next() {
		var code string
		var b []byte
		if err := rows.Scan(&code, &b); err != nil {
			return nil, fmt.Errorf("postgres: apportion: shapes: %w", err)
		}
		g, err := wkb.Unmarshal(b)
		if err != nil {
			return nil, fmt.Errorf("postgres: apportion: %s: %w", code, err)
		}
		out = append(out, crosstab.NewShape(code, g, p))
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: apportion: shapes: %w", err)
	}
	return out, nil
}

const bureauShapesSQL = `SELECT code, ST_AsBinary(geom) FROM bureau_contours WHERE vintage = $1 ORDER BY code`
const irisShapesSQL = `SELECT code, ST_AsBinary(geom) FROM iris_contours WHERE vintage = $1 ORDER BY code`

// dasymetricSamples is the side of the lattice sampling a cell split by borders: 8 × 8
// points, one per 25 m square of a 200 m cell.
const dasymetricSamples = 8

// apportionGeometry computes and stores the stale weights; it returns the grid counts
// per bureau (in crosstab.Counts order, grid keys only), which saves the profile a
// join of millions of weights with the cells.
func (db *DB) apportionGeometry(ctx context.Context, o ApportionOptions, st *ApportionStats, gridStale, irisStale bool, gridIn, irisIn apportionInputs) (map[string][]float64, error) {
	cv := st.ContourVintage
	start := time.Now()
	bureaux, err := db.readShapes(ctx, bureauShapesSQL, cv)
	if err != nil {
		return nil, err
	}
	st.Bureaux = len(bureaux)
	// The grid: needed for its own weights and for the IRIS dasymetric weights.
	var grid *gridCells
	var bParts []crosstab.CellPart
	if st.GridVintage != "" {
		if grid, err = db.readGrid(ctx, st.GridVintage); err != nil {
			return nil, err
		}
		st.Cells = len(grid.cells)
		if bParts, err = crosstab.CellParts(ctx, grid.cells, bureaux, o.Workers); err != nil {
			return nil, err
		}
		st.CellPairs = len(bParts)
	}
	if gridStale {
		shares := crosstab.Shares(bParts, len(grid.cells))
		var given, total float64
		seen := make([]bool, len(grid.cells))
		for i, p := range bParts {
			given += shares[i] * grid.values[p.Cell][0]
			seen[p.Cell] = true
		}
		for c := range grid.cells {
			total += grid.values[c][0]
		}
		if total > 0 {
			st.GridCovered = given / total
		}
		report := map[string]any{"cells": len(grid.cells), "pairs": len(bParts), "covered": st.GridCovered}
		err := db.replaceRun(ctx, "grid", st.GridVintage, cv, gridIn, report, func(tx pgx.Tx, run int) error {
			i := 0
			_, err := tx.CopyFrom(ctx, pgx.Identifier{"grid_weights"}, []string{"run_id", "cell", "bureau", "weight", "area_m2"},
				pgx.CopyFromFunc(func() ([]any, error) {
					if i == len(bParts) {
						return nil, nil
					}
					p := bParts[i]
					i++
					return []any{run, grid.ids[p.Cell], bureaux[p.Shape].Code, shares[i-1], p.Area}, nil
				}))
			return err
		})
		if err != nil {
			return nil, err
		}
		st.GridSeconds = time.Since(start).Seconds()
	}
	sums := gridSums(grid, bParts, bureaux)
	if !irisStale {
		return sums, nil
	}
	start = time.Now()
	iris, err := db.readShapes(ctx, irisShapesSQL, st.IRISVintage)
	if err != nil {
		return nil, err
	}
	st.IRIS = len(iris)
	pieces, err := crosstab.Overlaps(ctx, iris, bureaux, o.Workers)
	if err != nil {
		return nil, err
	}
	if grid != nil {
		iParts, err := crosstab.CellParts(ctx, grid.cells, iris, o.Workers)
		if err != nil {
			return nil, err
		}
		pop := make([]float64, len(grid.cells))
		for c := range pop {
			pop[c] = grid.values[c][0]
		}
		crosstab.Dasymetric(grid.cells, pop, iris, bureaux, iParts, bParts, pieces, dasymetricSamples)
	}
	ws := crosstab.PieceWeights(pieces, len(iris))
	st.IRISPairs = len(ws)
	report := map[string]any{"iris": len(iris), "pairs": len(ws)}
	err = db.replaceRun(ctx, "iris", st.IRISVintage, cv, irisIn, report, func(tx pgx.Tx, run int) error {
		i := 0
		_, err := tx.CopyFrom(ctx, pgx.Identifier{"iris_weights"}, []string{"run_id", "iris", "bureau", "area_weight", "pop_weight", "area_m2", "pop"},
			pgx.CopyFromFunc(func() ([]any, error) {
				if i == len(ws) {
					return nil, nil
				}
				w := ws[i]
				i++
				return []any{run, iris[w.Source].Code, bureaux[w.Bureau].Code, w.Area, w.Pop, w.AreaM2, w.PopN}, nil
			}))
		return err
	})
	if err != nil {
		return nil, err
	}
	// The IRIS phase proper: the grid was read and clipped for the grid phase already.
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
				v[k] += shares[i] * grid.values[p.Cell][col[name]]
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
	if gridSums != nil {
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
	} else if err := db.gridCounts(ctx, cv, gv, keys, idx, pw, aw, sources); err != nil {
		return err
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

// gridCounts adds the grid counts: Σ over cells of value × cell weight, summed in SQL.
func (db *DB) gridCounts(ctx context.Context, cv, gv string, keys []crosstab.Count, idx map[string]int, pw, aw [][]float64, sources map[string]string) error {
	if gv == "" {
		return nil
	}
	var gridKeys []int
	q := `SELECT w.bureau`
	for ci, c := range keys {
		if c.Source != crosstab.FromGrid {
			continue
		}
		gridKeys = append(gridKeys, ci)
		expr := ""
		for j, col := range c.Vars {
			if j > 0 {
				expr += " + "
			}
			expr += "coalesce(c." + col + ", 0)" // columns from the fixed list in crosstab, never from a request
		}
		if c.Key == "grid_ind_imputed" {
			expr = "CASE WHEN c.i_est_200 THEN " + expr + " ELSE 0 END"
		}
		q += ", sum(w.weight * (" + expr + "))"
		sources[c.Key] = "grid_cells." + fmt.Sprint(c.Vars)
	}
	q += ` FROM grid_weights w JOIN apportion_runs r ON r.id = w.run_id
	JOIN grid_cells c ON c.vintage = $1::int AND c.id = w.cell
	WHERE r.source = 'grid' AND r.source_vintage = $2 AND r.contour_vintage = $3 GROUP BY w.bureau`
	for _, ci := range gridKeys {
		for b := range pw {
			pw[b][ci], aw[b][ci] = 0, 0
		}
	}
	rows, err := db.pool.Query(ctx, q, gv, gv, cv)
	if err != nil {
		return fmt.Errorf("postgres: profiles: grid: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var bureau string
		vals := make([]float64, len(gridKeys))
		dst := []any{&bureau}
		for i := range vals {
			dst = append(dst, &vals[i])
		}
		if err := rows.Scan(dst...); err != nil {
			return fmt.Errorf("postgres: profiles: grid: %w", err)
		}
		b, ok := idx[bureau]
		if !ok {
			continue
		}
		for i, ci := range gridKeys {
			// Grid cells are small: area weighting is the method for both arrays.
			pw[b][ci], aw[b][ci] = vals[i], vals[i]
		}
	}
	return rows.Err()
}
