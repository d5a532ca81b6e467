package generate

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"unicode/utf8"
)

// groupCells returns, for each of n regions, the cells whose region (of[c]) it is,
// in cell order.
func groupCells(of []int32, n int) [][]int32 {
	counts := make([]int, n+1)
	for _, r := range of {
		counts[r+1]++
	}
	for k := 1; k <= n; k++ {
		counts[k] += counts[k-1]
	}
	flat := make([]int32, len(of))
	pos := slices.Clone(counts[:n])
	for c, r := range of {
		flat[pos[r]] = int32(c)
		pos[r]++
	}
	out := make([][]int32, n)
	for k := range n {
		out[k] = flat[counts[k]:counts[k+1]]
	}
	return out
}

// appendJSONString appends s as a JSON string; with ascii, every non-ASCII character
// becomes a \uXXXX escape, as in the data.gouv contours file.
func appendJSONString(b []byte, s string, ascii bool) []byte {
	b = append(b, '"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b = append(b, '\\', byte(r))
		case r < 0x20:
			b = fmt.Appendf(b, `\u%04x`, r)
		case r < utf8.RuneSelf || !ascii:
			b = utf8.AppendRune(b, r)
		case r > 0xffff:
			r1, r2 := 0xd800+((r-0x10000)>>10), 0xdc00+((r-0x10000)&0x3ff)
			b = fmt.Appendf(b, `\u%04x\u%04x`, r1, r2)
		default:
			b = fmt.Appendf(b, `\u%04x`, r)
		}
	}
	return append(b, '"')
}

// appendGeometry appends a GeoJSON Polygon or MultiPolygon in lon/lat degrees rounded
// to 6 decimals (about 10 cm), like the data.gouv file; sep is ", " or " , " to
// imitate the two styles of the real files.
func (g *generator) appendGeometry(b []byte, p *patch, polys []polygon, spaced bool) []byte {
	open, close, sep := "[", "]", ", "
	if spaced {
		open, close, sep = "[ ", " ]", ", "
	}
	ringJSON := func(b []byte, r ring) []byte {
		b = append(b, open...)
		for k := 0; k <= len(r); k++ {
			if k > 0 {
				b = append(b, sep...)
			}
			e, n := g.vertex(p, r[k%len(r)])
			lon, lat := g.laea.Inverse(e, n)
			b = append(b, open...)
			b = strconv.AppendFloat(b, math.Round(lon*1e6)/1e6, 'f', -1, 64)
			b = append(b, sep...)
			b = strconv.AppendFloat(b, math.Round(lat*1e6)/1e6, 'f', -1, 64)
			b = append(b, close...)
		}
		return append(b, close...)
	}
	polyJSON := func(b []byte, poly polygon) []byte {
		b = append(b, open...)
		for k, r := range poly {
			if k > 0 {
				b = append(b, sep...)
			}
			b = ringJSON(b, r)
		}
		return append(b, close...)
	}
	q := func(s string) string {
		if spaced {
			return `{ "type": "` + s + `", "coordinates": `
		}
		return `{"type": "` + s + `", "coordinates": `
	}
	if len(polys) == 1 {
		b = append(b, q("Polygon")...)
		b = polyJSON(b, polys[0])
	} else {
		b = append(b, q("MultiPolygon")...)
		b = append(b, open...)
		for k, poly := range polys {
			if k > 0 {
				b = append(b, sep...)
			}
			b = polyJSON(b, poly)
		}
		b = append(b, close...)
	}
	if spaced {
		return append(b, " }"...)
	}
	return append(b, '}')
}

func (g *generator) deptName(code string) string {
	for _, d := range g.t.depts {
		if d.code == code {
			return d.name
		}
	}
	return ""
}

// circoCode is the contours' circonscription code: département + 2-digit number.
func circoCode(dept string, n int) string { return fmt.Sprintf("%s%02d", dept, n) }

func ordinal(n int) string {
	if n == 1 {
		return "1ère"
	}
	return fmt.Sprintf("%dème", n)
}

// bureauOrder returns bureau indices sorted by key.
func (g *generator) bureauOrder() []int {
	t := g.t
	order := make([]int, len(t.bureaux))
	for k := range order {
		order[k] = k
	}
	slices.SortFunc(order, func(a, b int) int { return cmp.Compare(t.bureaux[a].key, t.bureaux[b].key) })
	return order
}

// writeContours writes contours.geojson in the shape of data.gouv's "Proposition de
// contours des bureaux de vote": one line, CRS84 member, ASCII with \u escapes.
func (g *generator) writeContours(ctx context.Context) error {
	t := g.t
	cells := groupCells(t.bureauOf, len(t.bureaux))
	o, err := g.create("contours.geojson", "contours", "datagouv-contours-v2", "UTF-8")
	if err != nil {
		return err
	}
	w := o.w
	w.WriteString(`{"type": "FeatureCollection", "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:OGC:1.3:CRS84"}}, "features": [`)
	var b []byte
	for k, bi := range g.bureauOrder() {
		if k%1024 == 0 && ctx.Err() != nil {
			o.close()
			return fmt.Errorf("generate: contours: %w", ctx.Err())
		}
		bu := &t.bureaux[bi]
		u := &t.units[bu.unit]
		cm := &t.communes[u.commune]
		p := t.cellPatch(int(cells[bi][0]))
		ub := int32(bi)
		polys := trace(p, cells[bi], func(c int32) bool { return t.bureauOf[c] == ub })
		b = b[:0]
		if k > 0 {
			b = append(b, ", "...)
		}
		b = append(b, `{"type": "Feature", "geometry": `...)
		b = g.appendGeometry(b, p, polys, false)
		b = append(b, `, "properties": {"codeDepartement": `...)
		b = appendJSONString(b, cm.dept, true)
		b = append(b, `, "nomDepartement": `...)
		b = appendJSONString(b, g.deptName(cm.dept), true)
		b = append(b, `, "codeCirconscription": `...)
		b = appendJSONString(b, circoCode(cm.dept, u.circo), true)
		b = append(b, `, "nomCirconscription": `...)
		b = appendJSONString(b, ordinal(u.circo)+" circonscription", true)
		b = append(b, `, "codeCommune": `...)
		b = appendJSONString(b, cm.code, true)
		b = append(b, `, "nomCommune": `...)
		b = appendJSONString(b, cm.name, true)
		b = append(b, `, "numeroBureauVote": `...)
		b = appendJSONString(b, bu.code, true)
		b = append(b, `, "codeBureauVote": `...)
		b = appendJSONString(b, bu.key, true)
		b = append(b, `, "id_bv": `...)
		b = appendJSONString(b, bu.idBV, true)
		b = append(b, "}}"...)
		w.Write(b)
	}
	w.WriteString("]}")
	o.entry.Rows = len(t.bureaux)
	g.totals.Bureaux = len(t.bureaux)
	return o.close()
}

// irisOrder returns IRIS indices sorted by code.
func (g *generator) irisOrder() []int {
	t := g.t
	order := make([]int, len(t.iris))
	for k := range order {
		order[k] = k
	}
	slices.SortFunc(order, func(a, b int) int { return cmp.Compare(t.iris[a].code, t.iris[b].code) })
	return order
}

// writeIRISContours writes iris.geojson with the upper-case fields of IGN's
// CONTOURS-IRIS shapefiles, in lon/lat, one feature per line as ogr2ogr writes.
func (g *generator) writeIRISContours(ctx context.Context) error {
	t := g.t
	cells := groupCells(t.irisOf, len(t.iris))
	o, err := g.create("iris.geojson", "iris", "ign-contours-iris", "UTF-8")
	if err != nil {
		return err
	}
	w := o.w
	w.WriteString("{\n\"type\": \"FeatureCollection\",\n\"name\": \"CONTOURS-IRIS\",\n" +
		"\"crs\": { \"type\": \"name\", \"properties\": { \"name\": \"urn:ogc:def:crs:OGC:1.3:CRS84\" } },\n\"features\": [\n")
	var b []byte
	for k, ii := range g.irisOrder() {
		if k%1024 == 0 && ctx.Err() != nil {
			o.close()
			return fmt.Errorf("generate: iris: %w", ctx.Err())
		}
		ir := &t.iris[ii]
		u := &t.units[ir.unit]
		p := t.cellPatch(int(cells[ii][0]))
		ui := int32(ii)
		polys := trace(p, cells[ii], func(c int32) bool { return t.irisOf[c] == ui })
		b = b[:0]
		if k > 0 {
			b = append(b, ",\n"...)
		}
		b = append(b, `{ "type": "Feature", "properties": { "INSEE_COM": `...)
		b = appendJSONString(b, u.code, false)
		b = append(b, `, "NOM_COM": `...)
		b = appendJSONString(b, u.name, false)
		b = append(b, `, "IRIS": `...)
		b = appendJSONString(b, ir.code[5:], false)
		b = append(b, `, "CODE_IRIS": `...)
		b = appendJSONString(b, ir.code, false)
		b = append(b, `, "NOM_IRIS": `...)
		b = appendJSONString(b, ir.name, false)
		b = append(b, `, "TYP_IRIS": `...)
		b = appendJSONString(b, ir.typ, false)
		b = append(b, ` }, "geometry": `...)
		b = g.appendGeometry(b, p, polys, true)
		b = append(b, " }"...)
		w.Write(b)
	}
	w.WriteString("\n]\n}\n")
	o.entry.Rows = len(t.iris)
	g.totals.IRIS = len(t.iris)
	return o.close()
}
