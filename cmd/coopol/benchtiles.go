package main

import (
	"compress/gzip"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/coopol/coopol/internal/postgres"
	"github.com/coopol/coopol/internal/server"
	"github.com/coopol/coopol/internal/tiles"
	"github.com/coopol/coopol/migrations"
)

// runBenchTiles measures the tile engine on whatever data the database holds (make
// bench-tiles loads the France-scale synthetic set): (a) the worst uncached tile of
// each zoom, (b) a mixed HTTP workload cold then warm, (c) the naive per-request
// ST_AsMVT query on the same tiles.
func runBenchTiles(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench-tiles", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dbURL := dbFlag(fs, getenv)
	duration := fs.Duration("duration", 60*time.Second, "length of the warm mixed workload")
	workers := fs.Int("c", 16, "concurrent HTTP clients")
	perZoom := fs.Int("tiles", 5, "densest tiles per zoom measured uncached")
	naiveMax := fs.Int("naive-max-zoom", 14, "run the naive query up to this zoom")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := requireDB(*dbURL); err != nil {
		return err
	}
	db, err := postgres.Open(ctx, *dbURL)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.CheckSchema(ctx, migrations.FS); err != nil {
		return err
	}
	eng := tiles.NewEngine(db, tiles.Options{})

	// (a) and (c): the densest tiles of each zoom, uncached.
	fmt.Fprintln(stdout, "(a) worst uncached tile per zoom (densest tiles by bureau count), and (c) the naive ST_AsMVT query")
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "z\tlayer\ttile\tms\tgzip KB\traw KB\tnaive ms\tnaive gzip KB\tratio\t")
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
			var worst struct {
				t       [3]int
				ms      float64
				gz, raw int
			}
			for _, c := range cands {
				start := time.Now()
				raw, err := eng.Render(ctx, layer, c[0], c[1], c[2])
				if err != nil {
					return err
				}
				// gzip is part of every miss: it counts.
				ms := float64(time.Since(start).Microseconds())/1000 + gzipMillis(raw)
				gz := gzipLen(raw)
				if ms > worst.ms {
					worst.t, worst.ms = c, ms
				}
				worst.gz, worst.raw = max(worst.gz, gz), max(worst.raw, len(raw))
			}
			naive := "\t\t\t"
			if layer == tiles.Composite && z <= *naiveMax {
				c := cands[0]
				start := time.Now()
				b, err := db.NaiveBureauTile(ctx, c[0], c[1], c[2])
				if err != nil {
					return err
				}
				nms := float64(time.Since(start).Microseconds())/1000 + gzipMillis(b)
				ours, _ := eng.Render(ctx, layer, c[0], c[1], c[2])
				start = time.Now()
				_, _ = eng.Render(ctx, layer, c[0], c[1], c[2])
				oms := float64(time.Since(start).Microseconds())/1000 + gzipMillis(ours)
				naive = fmt.Sprintf("%.1f\t%.0f\t%.0f×\t", nms, float64(gzipLen(b))/1024, nms/oms)
			}
			fmt.Fprintf(tw, "%d\t%s\t%d/%d/%d\t%.1f\t%.0f\t%.0f\t%s\n", z, layer, worst.t[0], worst.t[1], worst.t[2],
				worst.ms, float64(worst.gz)/1024, float64(worst.raw)/1024, naive)
		}
	}
	tw.Flush()

	// (b) the mixed workload over HTTP: zooms 5–14 around the densest places.
	var set [][3]int
	for z := 5; z <= 14; z++ {
		cands, err := db.TileDensity(ctx, z, 40)
		if err != nil {
			return err
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
	set = slices.Compact(set)
	eng = tiles.NewEngine(db, tiles.Options{}) // empty cache
	h := server.New(server.Deps{Logger: slog.New(slog.DiscardHandler), Store: db, Tiles: eng})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	defer srv.Close()
	base := "http://" + ln.Addr().String()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: *workers, DisableCompression: true}}
	fmt.Fprintf(stdout, "\n(b) mixed workload: %d distinct composite tiles, zooms 5–14, %d clients on 127.0.0.1\n", len(set), *workers)
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
		return err
	}
	fmt.Fprintf(stdout, "cold (each tile once, empty cache): %s\n", cold)
	warm, err := load(ctx, client, base, *workers, *duration, func(int) ([3]int, bool) {
		return set[rand.IntN(len(set))], true
	})
	if err != nil {
		return err
	}
	n, b := eng.CacheStats()
	fmt.Fprintf(stdout, "warm (%s, random tiles of the set): %s; cache %d tiles, %.1f MB\n", *duration, warm, n, float64(b)/1e6)
	return nil
}

type loadResult struct {
	n       int
	seconds float64
	p50     time.Duration
	p99     time.Duration
	bytes   int64
}

func (r loadResult) String() string {
	return fmt.Sprintf("%d tiles in %.1f s = %.0f tiles/s, p50 %.2f ms, p99 %.2f ms, %.1f MB gzipped",
		r.n, r.seconds, float64(r.n)/r.seconds, float64(r.p50.Microseconds())/1000, float64(r.p99.Microseconds())/1000, float64(r.bytes)/1e6)
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
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%s/tiles/carte/%d/%d/%d.mvt", base, t[0], t[1], t[2]), nil)
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
		r.p50, r.p99 = lat[len(lat)/2], lat[len(lat)*99/100]
	}
	return r, nil
}

func gzipLen(b []byte) int {
	if len(b) == 0 {
		return 0
	}
	var c countWriter
	zw := gzip.NewWriter(&c)
	zw.Write(b)
	zw.Close()
	return int(c)
}

// gzipMillis is the time gzip takes on b: part of every uncached tile served.
func gzipMillis(b []byte) float64 {
	start := time.Now()
	gzipLen(b)
	return float64(time.Since(start).Microseconds()) / 1000
}

type countWriter int64

func (c *countWriter) Write(p []byte) (int, error) { *c += countWriter(len(p)); return len(p), nil }
