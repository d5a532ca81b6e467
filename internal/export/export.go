// Package export writes tables of bureaux as CSV, Parquet, Arrow IPC, GeoJSON and
// GeoParquet, row by row, so a national table streams to a file or an HTTP response.
// Parquet and Arrow go through github.com/apache/arrow-go/v18.
package export

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/encoding/wkb"
	"github.com/paulmach/orb/geojson"

	"github.com/coopol/coopol/internal/errs"
)

// Type is a column's type.
type Type int

// The column types: text, integers (counts of votes) and floats (apportioned counts,
// rates). A float NaN is written as null.
const (
	String Type = iota
	Int
	Float
)

// Column names and types one column.
type Column struct {
	Name string
	Type Type
}

// Value is one cell; which field counts depends on the column's type.
type Value struct {
	S    string
	I    int64
	F    float64
	Null bool
}

// Formats lists the formats, with their file extensions and media types.
var Formats = map[string]struct{ Ext, MediaType string }{
	"csv":        {"csv", "text/csv; charset=utf-8"},
	"parquet":    {"parquet", "application/vnd.apache.parquet"},
	"arrow":      {"arrow", "application/vnd.apache.arrow.file"},
	"geojson":    {"geojson", "application/geo+json"},
	"geoparquet": {"parquet", "application/vnd.apache.parquet"},
}

// Options tune a writer.
type Options struct {
	// Sep is the CSV separator; ';' also switches decimals to commas, as French
	// spreadsheets expect.
	Sep rune
	// Geometry adds a WKB "geometry" column to Parquet and Arrow (GeoJSON and
	// GeoParquet always carry it).
	Geometry bool
}

// Writer takes rows and writes them in its format; Close finishes the file.
type Writer interface {
	// Write adds a row; geom is the bureau's WKB geometry in lon/lat, or nil.
	Write(row []Value, geom []byte) error
	Close() error
}

// NewWriter returns a writer of format for the columns.
func NewWriter(format string, w io.Writer, cols []Column, o Options) (Writer, error) {
	// Hide any Close method: the Parquet writer closes a sink that has one, and the
	// caller owns the file or the HTTP response.
	w = struct{ io.Writer }{w}
	switch format {
	case "csv":
		return newCSV(w, cols, o), nil
	case "parquet", "geoparquet", "arrow":
		return newArrow(format, w, cols, o)
	case "geojson":
		return newGeoJSON(w, cols), nil
	}
	return nil, fmt.Errorf("export: format %q: want csv, parquet, arrow, geojson or geoparquet: %w", format, errs.ErrInvalid)
}

// --- CSV

type csvWriter struct {
	w     *bufio.Writer
	cols  []Column
	sep   byte
	comma bool
	buf   []byte
}

func newCSV(w io.Writer, cols []Column, o Options) *csvWriter {
	c := &csvWriter{w: bufio.NewWriterSize(w, 1<<16), cols: cols, sep: ','}
	if o.Sep == ';' {
		c.sep, c.comma = ';', true
	}
	for i, col := range cols {
		if i > 0 {
			c.w.WriteByte(c.sep)
		}
		c.w.WriteString(c.quote(col.Name))
	}
	c.w.WriteString("\r\n")
	return c
}

func (c *csvWriter) quote(s string) string {
	if !strings.ContainsAny(s, "\"\r\n"+string(c.sep)) {
		return s
	}
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

func (c *csvWriter) Write(row []Value, _ []byte) error {
	for i, v := range row {
		if i > 0 {
			c.w.WriteByte(c.sep)
		}
		if v.Null {
			continue
		}
		switch c.cols[i].Type {
		case String:
			c.w.WriteString(c.quote(v.S))
		case Int:
			c.buf = strconv.AppendInt(c.buf[:0], v.I, 10)
			c.w.Write(c.buf)
		case Float:
			if math.IsNaN(v.F) || math.IsInf(v.F, 0) {
				continue
			}
			c.buf = strconv.AppendFloat(c.buf[:0], v.F, 'g', -1, 64)
			if c.comma {
				for j, b := range c.buf {
					if b == '.' {
						c.buf[j] = ','
					}
				}
			}
			c.w.Write(c.buf)
		}
	}
	_, err := c.w.WriteString("\r\n")
	return err
}

func (c *csvWriter) Close() error { return c.w.Flush() }

// --- Arrow IPC, Parquet, GeoParquet

const batchRows = 16384

type arrowWriter struct {
	format  string
	schema  *arrow.Schema
	b       *array.RecordBuilder
	cols    []Column
	geom    bool
	n       int
	ipc     *ipc.FileWriter
	pq      *pqarrow.FileWriter
	bbox    orb.Bound
	hasBbox bool
	types   map[string]bool
}

func newArrow(format string, w io.Writer, cols []Column, o Options) (*arrowWriter, error) {
	a := &arrowWriter{format: format, cols: cols, geom: o.Geometry || format == "geoparquet", types: map[string]bool{}}
	fields := make([]arrow.Field, 0, len(cols)+1)
	for _, c := range cols {
		var t arrow.DataType
		switch c.Type {
		case String:
			t = arrow.BinaryTypes.String
		case Int:
			t = arrow.PrimitiveTypes.Int64
		default:
			t = arrow.PrimitiveTypes.Float64
		}
		fields = append(fields, arrow.Field{Name: c.Name, Type: t, Nullable: true})
	}
	if a.geom {
		fields = append(fields, arrow.Field{Name: "geometry", Type: arrow.BinaryTypes.Binary, Nullable: true})
	}
	a.schema = arrow.NewSchema(fields, nil)
	a.b = array.NewRecordBuilder(memory.DefaultAllocator, a.schema)
	var err error
	if format == "arrow" {
		a.ipc, err = ipc.NewFileWriter(w, ipc.WithSchema(a.schema), ipc.WithAllocator(memory.DefaultAllocator))
	} else {
		// Dictionaries only for text: codes and names repeat, floats rarely do, and
		// dictionary-encoding a hundred float columns is most of the write time.
		opts := []parquet.WriterProperty{parquet.WithCompression(compress.Codecs.Snappy),
			parquet.WithDictionaryDefault(false), parquet.WithMaxRowGroupLength(1 << 17)}
		for _, c := range cols {
			if c.Type == String {
				opts = append(opts, parquet.WithDictionaryFor(c.Name, true))
			}
		}
		props := parquet.NewWriterProperties(opts...)
		a.pq, err = pqarrow.NewFileWriter(a.schema, w, props, pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema()))
	}
	if err != nil {
		return nil, fmt.Errorf("export %s: %w", format, err)
	}
	return a, nil
}

func (a *arrowWriter) Write(row []Value, geom []byte) error {
	for i, v := range row {
		f := a.b.Field(i)
		if v.Null {
			f.AppendNull()
			continue
		}
		switch a.cols[i].Type {
		case String:
			f.(*array.StringBuilder).Append(v.S)
		case Int:
			f.(*array.Int64Builder).Append(v.I)
		case Float:
			if math.IsNaN(v.F) || math.IsInf(v.F, 0) {
				f.AppendNull()
			} else {
				f.(*array.Float64Builder).Append(v.F)
			}
		}
	}
	if a.geom {
		gb := a.b.Field(len(a.cols)).(*array.BinaryBuilder)
		if geom == nil {
			gb.AppendNull()
		} else {
			gb.Append(geom)
			if a.format == "geoparquet" {
				a.extend(geom)
			}
		}
	}
	a.n++
	if a.n == batchRows {
		return a.flush()
	}
	return nil
}

// extend grows the GeoParquet bbox and type list.
func (a *arrowWriter) extend(geom []byte) {
	g, err := wkb.Unmarshal(geom)
	if err != nil {
		return
	}
	a.types[g.GeoJSONType()] = true
	if !a.hasBbox {
		a.bbox, a.hasBbox = g.Bound(), true
		return
	}
	a.bbox = a.bbox.Union(g.Bound())
}

func (a *arrowWriter) flush() error {
	if a.n == 0 {
		return nil
	}
	rec := a.b.NewRecordBatch()
	defer rec.Release()
	a.n = 0
	var err error
	if a.ipc != nil {
		err = a.ipc.Write(rec)
	} else {
		err = a.pq.WriteBuffered(rec)
	}
	if err != nil {
		return fmt.Errorf("export %s: %w", a.format, err)
	}
	return nil
}

// geoMetadata is GeoParquet 1.1's "geo" key: WKB encoding, CRS84 (the default when crs
// is left out), and the bbox and geometry types seen.
func (a *arrowWriter) geoMetadata() string {
	types := []string{}
	for t := range a.types {
		types = append(types, t)
	}
	col := map[string]any{"encoding": "WKB", "geometry_types": types}
	if a.hasBbox {
		col["bbox"] = []float64{a.bbox.Min[0], a.bbox.Min[1], a.bbox.Max[0], a.bbox.Max[1]}
	}
	b, _ := json.Marshal(map[string]any{"version": "1.1.0", "primary_column": "geometry", "columns": map[string]any{"geometry": col}})
	return string(b)
}

func (a *arrowWriter) Close() error {
	defer a.b.Release()
	if err := a.flush(); err != nil {
		return err
	}
	if a.ipc != nil {
		if err := a.ipc.Close(); err != nil {
			return fmt.Errorf("export arrow: %w", err)
		}
		return nil
	}
	if a.format == "geoparquet" {
		if err := a.pq.AppendKeyValueMetadata("geo", a.geoMetadata()); err != nil {
			return fmt.Errorf("export geoparquet: %w", err)
		}
	}
	if err := a.pq.Close(); err != nil {
		return fmt.Errorf("export %s: %w", a.format, err)
	}
	return nil
}

// --- GeoJSON

type geoJSONWriter struct {
	w     *bufio.Writer
	cols  []Column
	first bool
	props map[string]any
}

func newGeoJSON(w io.Writer, cols []Column) *geoJSONWriter {
	g := &geoJSONWriter{w: bufio.NewWriterSize(w, 1<<16), cols: cols, first: true, props: map[string]any{}}
	g.w.WriteString(`{"type":"FeatureCollection","features":[` + "\n")
	return g
}

func (g *geoJSONWriter) Write(row []Value, geom []byte) error {
	f := geojson.NewFeature(nil)
	f.Properties = make(map[string]any, len(row))
	for i, v := range row {
		name := g.cols[i].Name
		switch {
		case v.Null:
			f.Properties[name] = nil
		case g.cols[i].Type == String:
			f.Properties[name] = v.S
		case g.cols[i].Type == Int:
			f.Properties[name] = v.I
		case math.IsNaN(v.F) || math.IsInf(v.F, 0):
			f.Properties[name] = nil
		default:
			f.Properties[name] = v.F
		}
	}
	var gj []byte
	if geom != nil {
		geo, err := wkb.Unmarshal(geom)
		if err != nil {
			return fmt.Errorf("export geojson: %w", err)
		}
		if gj, err = json.Marshal(geojson.NewGeometry(geo)); err != nil {
			return fmt.Errorf("export geojson: %w", err)
		}
	}
	props, err := json.Marshal(f.Properties)
	if err != nil {
		return fmt.Errorf("export geojson: %w", err)
	}
	if !g.first {
		g.w.WriteString(",\n")
	}
	g.first = false
	g.w.WriteString(`{"type":"Feature","properties":`)
	g.w.Write(props)
	g.w.WriteString(`,"geometry":`)
	if gj == nil {
		g.w.WriteString("null")
	} else {
		g.w.Write(gj)
	}
	_, err = g.w.WriteString("}")
	return err
}

func (g *geoJSONWriter) Close() error {
	g.w.WriteString("\n]}\n")
	return g.w.Flush()
}
