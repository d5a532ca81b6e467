package insee

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/coopol/coopol/internal/ingest"
)

// GridVariables are the Filosofi grid variables, in the order of the 2019 header. INSEE
// publishes this list with every vintage; all are counts or sums (extensive).
var GridVariables = [...]string{
	"ind", "men", "men_pauv", "men_1ind", "men_5ind", "men_prop", "men_fmp", "ind_snv",
	"men_surf", "men_coll", "men_mais", "log_av45", "log_45_70", "log_70_90", "log_ap90",
	"log_inc", "log_soc", "ind_0_3", "ind_4_5", "ind_6_10", "ind_11_17", "ind_18_24",
	"ind_25_39", "ind_40_54", "ind_55_64", "ind_65_79", "ind_80p", "ind_inc",
}

// Grid layouts.
const (
	LayoutGridCSV     = "csv"
	LayoutGridGeoJSON = "geojson"
)

// GridCell is one Filosofi cell. Vars[i] is GridVariables[i]; NaN when the file has no
// such column or no value.
type GridCell struct {
	Line     int64 // CSV line, or feature number in a GeoJSON file
	ID       string
	SRID     int // from the id: 3035
	Size     int // metres
	Northing int
	Easting  int
	ID1km    string
	IDNat    string
	IEst200  int8 // 1 imputed, 0 not, -1 not given
	IEst1km  int8
	LcogGeo  string
	Communes []string
	Vars     [len(GridVariables)]float64
	Extra    map[string]any // columns outside GridVariables (2017 groupe, …); nil if none
}

// GridOptions tune a grid reader.
type GridOptions struct {
	OnRows func(n int64) // called every few thousand cells, for progress displays
}

// GridReader streams the cells of a Filosofi grid file.
type GridReader struct {
	Layout string
	next   func() (*GridCell, error)
	onRows func(int64)
	n      int64
}

var gridVintageRe = regexp.MustCompile(`(?i)filosofi[_-]?((?:19|20)[0-9]{2})`)

// GridVintage returns the vintage named in a Filosofi file name (Filosofi2019_… → 2019),
// or 0.
func GridVintage(file string) int {
	if m := gridVintageRe.FindStringSubmatch(filepath.Base(file)); m != nil {
		y, _ := strconv.Atoi(m[1])
		return y
	}
	return 0
}

// NewGridReader detects a CSV or a GeoJSON grid file and reads its header.
func NewGridReader(file string, r io.Reader, opt GridOptions) (*GridReader, error) {
	br := bufio.NewReaderSize(r, 256<<10)
	head, _ := br.Peek(512)
	head = bytes.TrimLeft(bytes.TrimPrefix(head, []byte("\xef\xbb\xbf")), " \t\r\n")
	g := &GridReader{onRows: opt.OnRows}
	if len(head) > 0 && head[0] == '{' {
		g.Layout = LayoutGridGeoJSON
		gj, err := newGeoJSONProps(file, br)
		if err != nil {
			return nil, err
		}
		g.next = func() (*GridCell, error) {
			props, err := gj.next()
			if err != nil {
				return nil, err
			}
			return gj.cell(props)
		}
		return g, nil
	}
	g.Layout = LayoutGridCSV
	gc, err := newGridCSV(file, br)
	if err != nil {
		return nil, err
	}
	g.next = gc.next
	return g, nil
}

// Next returns the next cell (reused between calls) or io.EOF.
func (g *GridReader) Next() (*GridCell, error) {
	c, err := g.next()
	if err == io.EOF && g.onRows != nil && g.n%4096 != 0 {
		g.onRows(g.n % 4096)
	}
	if err != nil {
		return nil, err
	}
	g.n++
	if g.onRows != nil && g.n%4096 == 0 {
		g.onRows(4096)
	}
	return c, nil
}

// gridSlot says where a column of the file goes.
type gridSlot int

const (
	slotExtra gridSlot = -1 - iota
	slotID
	slotID1km
	slotIDNat
	slotIEst200
	slotIEst1km
	slotLcog
)

var gridIdents = map[string]gridSlot{
	"idcar_200m": slotID, "idinspire": slotID, "idcar_1km": slotID1km, "idcar_nat": slotIDNat,
	"i_est_200": slotIEst200, "i_est_cr": slotIEst200, "i_est_1km": slotIEst1km,
	"lcog_geo": slotLcog, "depcom": slotLcog,
}

func gridSlotOf(name string) gridSlot {
	n := strings.ToLower(strings.TrimSpace(name))
	if s, ok := gridIdents[n]; ok {
		return s
	}
	for i, v := range GridVariables {
		if v == n {
			return gridSlot(i)
		}
	}
	return slotExtra
}

// gridCSV reads the CSV distribution, mapping columns by name without case.
type gridCSV struct {
	csv   *ingest.CSV
	slots []gridSlot
	idCol int
	buf   GridCell
}

func newGridCSV(file string, r io.Reader) (*gridCSV, error) {
	c, err := ingest.NewCSV(file, r)
	if err != nil {
		return nil, err
	}
	g := &gridCSV{csv: c, slots: make([]gridSlot, len(c.Header)), idCol: -1}
	id1km := -1
	for i, h := range c.Header {
		g.slots[i] = gridSlotOf(h)
		switch g.slots[i] {
		case slotID:
			g.idCol = i
		case slotID1km:
			id1km = i
		}
	}
	if g.idCol < 0 && id1km >= 0 { // a 1 km file: its cells are the 1 km squares
		g.idCol = id1km
	}
	if g.idCol < 0 {
		return nil, ingest.Errorf(file, 1, 0, "unknown header: no idcar_200m (or idcar_1km, IdINSPIRE) column")
	}
	return g, nil
}

func (g *gridCSV) next() (*GridCell, error) {
	rec, err := g.csv.Read()
	if err != nil {
		return nil, err
	}
	if len(rec) != len(g.slots) {
		return nil, g.csv.Errorf(min(len(rec), len(g.slots)), "%d fields, the header has %d", len(rec), len(g.slots))
	}
	c := &g.buf
	resetCell(c, g.csv.Line())
	for i, s := range rec {
		slot := g.slots[i]
		if i == g.idCol {
			slot = slotID
		}
		if err := c.set(slot, g.csv.Header[i], s); err != nil {
			return nil, g.csv.Errorf(i, "%s: %v", g.csv.Header[i], err)
		}
	}
	if err := c.finish(); err != nil {
		return nil, g.csv.Errorf(g.idCol, "%v", err)
	}
	return c, nil
}

func resetCell(c *GridCell, line int64) {
	*c = GridCell{Line: line, IEst200: -1, IEst1km: -1, Communes: c.Communes[:0]}
	for i := range c.Vars {
		c.Vars[i] = math.NaN()
	}
}

// set stores one raw field. Strings are what both CSV and GeoJSON give (GeoJSON numbers
// arrive as json.Number text).
func (c *GridCell) set(slot gridSlot, name, s string) error {
	s = strings.TrimSpace(s)
	switch slot {
	case slotID:
		c.ID = s
	case slotID1km:
		c.ID1km = s
	case slotIDNat:
		c.IDNat = s
	case slotIEst200, slotIEst1km:
		if s == "" {
			return nil
		}
		f, err := parseFloat(s)
		if err != nil || (f != 0 && f != 1) {
			return fmt.Errorf("flag %q: want 0 or 1", s)
		}
		v := int8(f)
		if slot == slotIEst200 {
			c.IEst200 = v
		} else {
			c.IEst1km = v
		}
	case slotLcog:
		c.LcogGeo = s
	case slotExtra:
		if s == "" || name == "" {
			return nil
		}
		if c.Extra == nil {
			c.Extra = map[string]any{}
		}
		if f, err := strconv.ParseFloat(s, 64); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
			c.Extra[strings.ToLower(name)] = f
		} else {
			c.Extra[strings.ToLower(name)] = s
		}
	default:
		if s == "" {
			return nil
		}
		f, err := parseFloat(s)
		if err != nil {
			return err
		}
		c.Vars[slot] = f
	}
	return nil
}

// finish parses the cell id and splits lcog_geo.
func (c *GridCell) finish() error {
	var err error
	c.SRID, c.Size, c.Northing, c.Easting, err = ParseCellID(c.ID)
	if err != nil {
		return err
	}
	if len(c.LcogGeo)%5 != 0 {
		return fmt.Errorf("lcog_geo %q: not a run of 5-character commune codes", c.LcogGeo)
	}
	for i := 0; i+5 <= len(c.LcogGeo); i += 5 {
		c.Communes = append(c.Communes, c.LcogGeo[i:i+5])
	}
	return nil
}

// ParseCellID reads an INSPIRE grid cell id, CRS3035RES200mN2875800E3756000: the CRS of
// the grid, the cell size in metres and the lower-left corner.
func ParseCellID(id string) (srid, size, northing, easting int, err error) {
	bad := func(why string) error { return fmt.Errorf("cell id %q: %s", id, why) }
	rest, ok := strings.CutPrefix(id, "CRS")
	if !ok {
		return 0, 0, 0, 0, bad("want CRS<epsg>RES<size>mN<northing>E<easting>")
	}
	crs, rest, ok := strings.Cut(rest, "RES")
	if !ok {
		return 0, 0, 0, 0, bad("no RES")
	}
	sz, rest, ok := strings.Cut(rest, "mN")
	if !ok {
		return 0, 0, 0, 0, bad("no mN")
	}
	n, e, ok := strings.Cut(rest, "E")
	if !ok {
		return 0, 0, 0, 0, bad("no E")
	}
	nums := [4]int{}
	for i, s := range []string{crs, sz, n, e} {
		v, err := strconv.Atoi(s)
		if err != nil || v < 0 || s == "" || s[0] == '+' || v > 1<<30 {
			return 0, 0, 0, 0, bad("not a number: " + s)
		}
		nums[i] = v
	}
	if nums[1] == 0 || nums[2]%nums[1] != 0 || nums[3]%nums[1] != 0 {
		return 0, 0, 0, 0, bad("corner is not on the grid")
	}
	return nums[0], nums[1], nums[2], nums[3], nil
}

// geoJSONProps walks a FeatureCollection token by token and decodes only the properties
// of each feature: the geometry is skipped (cells are rebuilt from their ids), and
// memory holds one feature at a time.
type geoJSONProps struct {
	file string
	dec  *json.Decoder
	n    int64
	done bool
	buf  GridCell
}

func newGeoJSONProps(file string, r io.Reader) (*geoJSONProps, error) {
	g := &geoJSONProps{file: file, dec: json.NewDecoder(r)}
	g.dec.UseNumber()
	if err := g.expectDelim('{'); err != nil {
		return nil, err
	}
	for g.dec.More() {
		key, err := g.key()
		if err != nil {
			return nil, err
		}
		if key == "features" {
			if err := g.expectDelim('['); err != nil {
				return nil, err
			}
			return g, nil
		}
		var skip json.RawMessage
		if err := g.dec.Decode(&skip); err != nil {
			return nil, g.errorf("member %q: %v", key, err)
		}
	}
	return nil, g.errorf("no features member: not a GeoJSON FeatureCollection")
}

func (g *geoJSONProps) errorf(format string, args ...any) error {
	return &ingest.ParseError{File: g.file, Col: int(g.dec.InputOffset()), Err: fmt.Errorf(format, args...)}
}

func (g *geoJSONProps) expectDelim(want json.Delim) error {
	t, err := g.dec.Token()
	if err != nil {
		return g.errorf("%v", err)
	}
	if d, ok := t.(json.Delim); !ok || d != want {
		return g.errorf("want %q, got %v", want, t)
	}
	return nil
}

func (g *geoJSONProps) key() (string, error) {
	t, err := g.dec.Token()
	if err != nil {
		return "", g.errorf("%v", err)
	}
	k, ok := t.(string)
	if !ok {
		return "", g.errorf("want an object key, got %v", t)
	}
	return k, nil
}

// next returns the properties of the next feature, or io.EOF after the last.
func (g *geoJSONProps) next() (map[string]any, error) {
	if g.done || !g.dec.More() {
		g.done = true
		return nil, io.EOF
	}
	g.n++
	if err := g.expectDelim('{'); err != nil {
		return nil, err
	}
	var props map[string]any
	for g.dec.More() {
		key, err := g.key()
		if err != nil {
			return nil, err
		}
		if key == "properties" {
			if err := g.dec.Decode(&props); err != nil {
				return nil, g.errorf("feature %d properties: %v", g.n, err)
			}
			continue
		}
		var skip json.RawMessage
		if err := g.dec.Decode(&skip); err != nil {
			return nil, g.errorf("feature %d %s: %v", g.n, key, err)
		}
	}
	if err := g.expectDelim('}'); err != nil {
		return nil, err
	}
	if props == nil {
		return nil, g.errorf("feature %d has no properties", g.n)
	}
	return props, nil
}

func (g *geoJSONProps) cell(props map[string]any) (*GridCell, error) {
	c := &g.buf
	resetCell(c, g.n)
	var haveID bool
	for name, v := range props {
		slot := gridSlotOf(name)
		{
			var s string
			switch x := v.(type) {
			case nil:
			case string:
				s = x
			case json.Number:
				s = x.String()
			case bool:
				s = "0"
				if x {
					s = "1"
				}
			default:
				if slot != slotExtra {
					return nil, g.featureErr("property %s: unexpected %T", name, v)
				}
				if c.Extra == nil {
					c.Extra = map[string]any{}
				}
				c.Extra[strings.ToLower(name)] = x
				continue
			}
			if err := c.set(slot, name, s); err != nil {
				return nil, g.featureErr("property %s: %v", name, err)
			}
			if slot == slotID {
				haveID = true
			}
		}
	}
	if !haveID { // a 1 km file
		c.ID = c.ID1km
	}
	if err := c.finish(); err != nil {
		return nil, g.featureErr("%v", err)
	}
	return c, nil
}

// featureErr names the feature by its number, in the Line field: GeoJSON has no lines.
func (g *geoJSONProps) featureErr(format string, args ...any) error {
	return &ingest.ParseError{File: g.file, Line: g.n, Err: fmt.Errorf("feature %d: "+format, append([]any{g.n}, args...)...)}
}
