package geo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
)

// IsGeoJSON reports whether a file is read directly (.geojson, .json) rather than
// converted by ogr2ogr.
func IsGeoJSON(path string) bool {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".geojson", ".json":
		return true
	}
	return false
}

// Open returns a GeoJSON stream of the file at path: the file itself for GeoJSON, else
// GDAL's conversion of it (Shapefile, GeoPackage, FlatGeobuf, …), restricted to layer
// when not empty. Closing it stops ogr2ogr.
func Open(ctx context.Context, path, layer string) (io.ReadCloser, error) {
	if IsGeoJSON(path) {
		if layer != "" {
			return nil, fmt.Errorf("geo: %s: a GeoJSON file has no layers (--layer %s)", filepath.Base(path), layer)
		}
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("geo: %w", err)
		}
		return f, nil
	}
	return OpenOGR(ctx, path, layer)
}

// OpenOGR runs `ogr2ogr -f GeoJSON /vsistdout/ path [layer]` and returns its output.
// ogr2ogr writes the source CRS as a crs member, which the Reader honours. A failing
// ogr2ogr surfaces as a read error carrying its message.
func OpenOGR(ctx context.Context, path, layer string) (io.ReadCloser, error) {
	bin, err := exec.LookPath("ogr2ogr")
	if err != nil {
		return nil, fmt.Errorf("geo: %s is not GeoJSON and ogr2ogr was not found to convert it: "+
			"install GDAL (Debian: apt-get install gdal-bin) or convert the file to GeoJSON: %w", filepath.Base(path), err)
	}
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("geo: %w", err)
	}
	// No RFC7946 option: ogr2ogr then keeps the source CRS and names it, instead of
	// reprojecting; PostGIS reprojects faster, in the same transaction.
	args := []string{"-f", "GeoJSON", "-lco", "WRITE_BBOX=NO", "/vsistdout/", path}
	if layer != "" {
		args = append(args, layer)
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	stderr := &limitedBuffer{max: 8 << 10}
	cmd.Stderr = stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("geo: ogr2ogr: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("geo: ogr2ogr: %w", err)
	}
	return &ogrStream{cmd: cmd, out: out, stderr: stderr, path: path}, nil
}

type ogrStream struct {
	cmd    *exec.Cmd
	out    io.ReadCloser
	stderr *limitedBuffer
	path   string
	once   sync.Once
	err    error
}

func (o *ogrStream) wait() error {
	o.once.Do(func() {
		if err := o.cmd.Wait(); err != nil {
			msg := strings.TrimSpace(o.stderr.String())
			o.err = fmt.Errorf("geo: ogr2ogr %s: %w: %s", filepath.Base(o.path), err, msg)
		}
	})
	return o.err
}

// Read passes ogr2ogr's output through; at its end, a failed conversion is reported
// instead of a clean EOF, so a truncated stream is never taken for a whole file.
func (o *ogrStream) Read(p []byte) (int, error) {
	n, err := o.out.Read(p)
	if errors.Is(err, io.EOF) {
		if werr := o.wait(); werr != nil {
			return n, werr
		}
	}
	return n, err
}

func (o *ogrStream) Close() error {
	o.out.Close()
	_ = o.cmd.Process.Kill() // it may still be writing a file nobody reads any more
	o.wait()
	return nil
}

// limitedBuffer keeps the first max bytes written to it.
type limitedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
	max int
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := b.max - b.buf.Len(); room > 0 {
		b.buf.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}

func (b *limitedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
