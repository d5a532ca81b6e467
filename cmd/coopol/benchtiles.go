package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/coopol/coopol/internal/server"
	"github.com/coopol/coopol/internal/tiles"
)

// runBenchTiles measures the tile engine on whatever data the database holds (make
// bench-tiles loads the France-scale synthetic set): (a) the worst uncached tile of
// each zoom and layer, (c) the naive per-request ST_AsMVT query on the same tiles, and
// (b) mixed HTTP workloads cold then warm, on the composite and on the grid cells.
func runBenchTiles(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench-tiles", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dbURL := dbFlag(fs, getenv)
	duration := fs.Duration("duration", 60*time.Second, "length of each warm mixed workload")
	workers := fs.Int("c", 16, "concurrent HTTP clients")
	perZoom := fs.Int("tiles", 5, "densest tiles per zoom measured uncached")
	runs := fs.Int("runs", 5, "renders per tile, ours and naive alike; the median counts")
	naiveMax := fs.Int("naive-max-zoom", 14, "run the naive query up to this zoom")
	if err := fs.Parse(args); err != nil {
		return err
	}
	db, err := openStore(ctx, *dbURL)
	if err != nil {
		return err
	}
	defer db.Close()
	eng := tiles.NewEngine(db, tiles.Options{})

	// median runs f n times and returns the median time in ms and the last output.
	median := func(n int, f func() ([]byte, error)) (float64, []byte, error) {
		var ms []float64
		var out []byte
		for range n {
			start := time.Now()
			b, err := f()
			if err != nil {
				return 0, nil, err
			}
			ms = append(ms, float64(time.Since(start).Microseconds())/1000)
			out = b
		}
		slices.Sort(ms)
		return ms[len(ms)/2], out, nil
	}
	// ours renders uncached and gzips, as every miss does.
	ours := func(layer string, t [3]int) (float64, []byte, []byte, error) {
		var raw []byte
		ms, gz, err := median(*runs, func() ([]byte, error) {
			var err error
			raw, err = eng.Render(ctx, layer, t[0], t[1], t[2])
			if err != nil || len(raw) == 0 {
				return nil, err
			}
			return tiles.Compress(raw), nil
		})
		return ms, raw, gz, err
	}
	naive := func(t [3]int, n int) (float64, error) {
		ms, _, err := median(n, func() ([]byte, error) {
			b, err := db.NaiveBureauTile(ctx, t[0], t[1], t[2])
			if err != nil || len(b) == 0 {
				return nil, err
			}
			return tiles.Compress(b), nil
		})
		return ms, err
	}

	fmt.Fprintf(stdout, "(a) worst uncached tile per zoom and layer among the %d densest (bureaux; grid cells for carreaux), median of %d renders with gzip;\n", *perZoom, *runs)
	fmt.Fprintln(stdout, "(c) the naive ST_AsMVT(ST_AsMVTGeom(...)) over bureau_contours on the same tiles: on our worst tile, and on the tile where it is slowest")
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "z\tlayer\ttile\tms\tgzip KB\traw KB\tnaive ms\tratio\tnaive worst\tnaive ms\tour ms\tratio\tload\t")
	for z := 0; z <= 14; z++ {
		cands, err := db.TileDensity(ctx, z, *perZoom)
		if err != nil {
			return err
		}
		if len(cands) == 0 {
			return errors.New("bench-tiles: no bureau contours loaded")
		}
		for _, layer := range []string{tiles.Composite, "bureaux", "communes", "iris", "carreaux"} {
			if l, err := tiles.LayerByName(layer); err == nil && z < l.MinZoom {
				continue
			}
			cs := cands
			if layer == "carreaux" {
				if cs, err = db.CellDensity(ctx, z, *perZoom); err != nil {
					return err
				}
				if len(cs) == 0 {
					fmt.Fprintf(tw, "%d\t%s\tno grid cells built\t\t\t\t\t\t\t\t\t\t\n", z, layer)
					continue
				}
			}
			var worst struct {
				t       [3]int
				ms      float64
				gz, raw int
			}
			oms := map[[3]int]float64{}
			for _, c := range cs {
				ms, raw, gz, err := ours(layer, c)
				if err != nil {
					return err
				}
				oms[c] = ms
				if ms > worst.ms {
					worst.t, worst.ms = c, ms
				}
				worst.gz, worst.raw = max(worst.gz, len(gz)), max(worst.raw, len(raw))
			}
			cmp := "\t\t\t\t\t\t"
			loadNow := loadAverage()
			if layer == tiles.Composite && z <= *naiveMax {
				// Below zoom 5 a naive tile takes seconds: once each.
				n := *runs
				if z < 5 {
					n = 1
				}
				var slow struct {
					t  [3]int
					ms float64
				}
				var onWorst float64
				for _, c := range cs {
					ms, err := naive(c, n)
					if err != nil {
						return err
					}
					if c == worst.t {
						onWorst = ms
					}
					if ms > slow.ms {
						slow.t, slow.ms = c, ms
					}
				}
				cmp = fmt.Sprintf("%.1f\t%.0f×\t%d/%d/%d\t%.1f\t%.1f\t%.0f×\t", onWorst, onWorst/worst.ms,
					slow.t[0], slow.t[1], slow.t[2], slow.ms, oms[slow.t], slow.ms/oms[slow.t])
			}
			fmt.Fprintf(tw, "%d\t%s\t%d/%d/%d\t%.1f\t%.0f\t%.0f\t%s%s\t\n", z, layer, worst.t[0], worst.t[1], worst.t[2],
				worst.ms, float64(worst.gz)/1024, float64(worst.raw)/1024, cmp, loadNow)
		}
	}
	tw.Flush()

	// (b) the mixed workloads over HTTP: the composite at zooms 5–14 around the densest
	// places, then the grid cells at zooms 11–14 around the densest cells.
	around := func(density func(context.Context, int, int) ([][3]int, error), from, to int) ([][3]int, error) {
		var set [][3]int
		for z := from; z <= to; z++ {
			cands, err := density(ctx, z, 40)
			if err != nil {
				return nil, err
			}
			for _, c := range cands {
				for dx := -1; dx <= 1; dx++ {
					for dy := -1; dy <= 1; dy++ {
						set = append(set, [3]int{c[0], c[1] + dx, c[2] + dy})
					}
				}
			}
		}
		slices.SortFunc(set, func(a, b [3]int) int {
			for i := range a {
				if a[i] != b[i] {
					return a[i] - b[i]
				}
			}
			return 0
		})
		return slices.Compact(set), nil
	}
	for _, w := range []struct {
		layer    string
		density  func(context.Context, int, int) ([][3]int, error)
		from, to int
	}{
		{tiles.Composite, db.TileDensity, 5, 14},
		{"carreaux", db.CellDensity, 11, 14},
	} {
		set, err := around(w.density, w.from, w.to)
		if err != nil {
			return err
		}
		if len(set) == 0 {
			continue
		}
		eng := tiles.NewEngine(db, tiles.Options{}) // empty cache
		h := server.New(server.Deps{Logger: slog.New(slog.DiscardHandler), Store: db, Tiles: eng})
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		srv := &http.Server{Handler: h}
		go srv.Serve(ln)
		base := "http://" + ln.Addr().String() + "/tiles/" + w.layer
		client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: *workers, DisableCompression: true}}
		fmt.Fprintf(stdout, "\n(b) mixed workload: %d distinct %s tiles, zooms %d–%d, %d clients on 127.0.0.1\n", len(set), w.layer, w.from, w.to, *workers)
		rng := rand.New(rand.NewPCG(1, 2))
		order := rng.Perm(len(set))
		var next atomic.Int64
		cold, err := load(ctx, client, base, *workers, 0, func(int) ([3]int, bool) {
			i := next.Add(1) - 1
			if int(i) >= len(order) {
				return [3]int{}, false
			}
			return set[order[i]], true
		})
		if err != nil {
			srv.Close()
			return err
		}
		fmt.Fprintf(stdout, "cold (each tile once, empty cache): %s; load %s\n", cold, loadAverage())
		warm, err := load(ctx, client, base, *workers, *duration, func(int) ([3]int, bool) {
			return set[rand.IntN(len(set))], true
		})
		srv.Close()
		if err != nil {
			return err
		}
		n, b := eng.CacheStats()
		fmt.Fprintf(stdout, "warm (%s, random tiles of the set): %s; cache %d tiles, %.1f MB; load %s\n", *duration, warm, n, float64(b)/1e6, loadAverage())
	}
	return nil
}

type loadResult struct {
	n       int
	seconds float64
	p50     time.Duration
	p99     time.Duration
	max     time.Duration
	bytes   int64
}

func (r loadResult) String() string {
	return fmt.Sprintf("%d tiles in %.1f s = %.0f tiles/s, p50 %.2f ms, p99 %.2f ms, max %.2f ms, %.1f MB gzipped",
		r.n, r.seconds, float64(r.n)/r.seconds, float64(r.p50.Microseconds())/1000, float64(r.p99.Microseconds())/1000,
		float64(r.max.Microseconds())/1000, float64(r.bytes)/1e6)
}

// load runs workers fetching the tiles pick gives until it says stop or d elapses.
func load(ctx context.Context, client *http.Client, base string, workers int, d time.Duration, pick func(worker int) ([3]int, bool)) (loadResult, error) {
	var (
		mu    sync.Mutex
		lat   []time.Duration
		bytes int64
		first error
	)
	start := time.Now()
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			var nb int64
			buf := make([]byte, 64<<10)
			for d == 0 || time.Since(start) < d {
				t, ok := pick(w)
				if !ok || ctx.Err() != nil {
					break
				}
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%s/%d/%d/%d.mvt", base, t[0], t[1], t[2]), nil)
				req.Header.Set("Accept-Encoding", "gzip")
				t0 := time.Now()
				res, err := client.Do(req)
				if err == nil {
					for {
						n, rerr := res.Body.Read(buf)
						nb += int64(n)
						if rerr != nil {
							break
						}
					}
					res.Body.Close()
					if res.StatusCode != http.StatusOK {
						err = fmt.Errorf("tile %v: %s", t, res.Status)
					}
				}
				if err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
					return
				}
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			lat = append(lat, mine...)
			bytes += nb
			mu.Unlock()
		}()
	}
	wg.Wait()
	if first != nil {
		return loadResult{}, fmt.Errorf("bench-tiles: %w", first)
	}
	slices.Sort(lat)
	r := loadResult{n: len(lat), seconds: time.Since(start).Seconds(), bytes: bytes}
	if len(lat) > 0 {
		r.p50, r.p99, r.max = lat[len(lat)/2], lat[len(lat)*99/100], lat[len(lat)-1]
	}
	return r, nil
}

// loadAverage is the one-minute load average, to read each figure against: the
// benchmark machine may be shared.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return "?"
	}
	return f[0]
}
