package generate

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Filosofi age bands, in the order of the 2019 grid header.
const (
	a0_3 = iota
	a4_5
	a6_10
	a11_17
	a18_24
	a25_39
	a40_54
	a55_64
	a65_79
	a80p
	aInc
	nAges
)

// cellRecord is one Filosofi 2019 grid row. Counts are in tenths, so that the
// invariants of the real file (Σ age bands = ind, men_coll + men_mais = men,
// Σ log_* = men) hold exactly once the values are printed with one decimal.
type cellRecord struct {
	imputed                              bool
	ind, men                             int64
	pauv, m1ind, m5ind, prop, fmp        int64
	snv                                  float64 // sum of standards of living, euros
	surf                                 int64
	coll, mais                           int64
	logs                                 [5]int64 // av45, 45_70, 70_90, ap90, inc
	soc                                  int64
	age                                  [nAges]int64
	meanIncome, urban, ageShift, wealthF float64
}

// aggregate sums cell records over a bureau or an IRIS.
type aggregate struct {
	cells, popCells int
	ind, men, pauv  int64
	imputedInd      int64
	snv             float64
	age             [nAges]int64
	coll, prop, soc int64
}

func (a *aggregate) add(r *cellRecord) {
	a.cells++
	if r.ind == 0 {
		return
	}
	a.popCells++
	a.ind += r.ind
	a.men += r.men
	a.pauv += r.pauv
	if r.imputed {
		a.imputedInd += r.ind
	}
	a.snv += r.snv
	for k := range a.age {
		a.age[k] += r.age[k]
	}
	a.coll += r.coll
	a.prop += r.prop
	a.soc += r.soc
}

// split divides total (tenths, a multiple of gran) into parts proportional to w, each
// a multiple of gran, by largest remainder; ties go to the first part.
func split(total, gran int64, w []float64) []int64 {
	out := make([]int64, len(w))
	if total <= 0 {
		return out
	}
	units := total / gran
	rest := total - units*gran
	var sw float64
	for _, x := range w {
		sw += x
	}
	type rem struct {
		k int
		r float64
	}
	rems := make([]rem, len(w))
	var used int64
	for k, x := range w {
		q := float64(units) * x / sw
		f := math.Floor(q)
		out[k] = int64(f)
		used += int64(f)
		rems[k] = rem{k, q - f}
	}
	slices.SortStableFunc(rems, func(a, b rem) int { return cmp.Compare(b.r, a.r) })
	for i := int64(0); i < units-used; i++ {
		out[rems[i%int64(len(rems))].k]++
	}
	big := 0
	for k := range out {
		out[k] *= gran
		if w[k] > w[big] {
			big = k
		}
	}
	out[big] += rest
	return out
}

// roundTo rounds x (tenths) to a multiple of gran, and never above limit.
func roundTo(x float64, gran, limit int64) int64 {
	v := int64(math.Round(x/float64(gran))) * gran
	return max(0, min(v, limit))
}

// record computes the Filosofi row of cell c from its population, its commune's
// traits and noise attached to the cell.
func (g *generator) record(c int) cellRecord {
	t := g.t
	var r cellRecord
	r.ind = int64(t.ind[c])
	if r.ind == 0 {
		return r
	}
	cm := &t.communes[t.units[t.unitOf[c]].commune]
	dens := float64(r.ind) / 10
	u := math.Min(1, math.Log1p(dens)/math.Log1p(700))
	r.urban = u
	n := func(k uint64) float64 { return g.norm(sCell, uint64(c), k) }
	hh := math.Max(1.4, math.Min(3.2, 2.55-0.85*u+0.12*n(0)))
	menRaw := dens / hh
	r.imputed = menRaw < 11
	gran := int64(10)
	if r.imputed {
		gran = 1
	}
	r.men = max(gran, roundTo(menRaw*10, gran, math.MaxInt64))
	w := cm.wealth * math.Exp(0.22*n(1))
	r.wealthF = w
	r.meanIncome = math.Max(8000, 22000*w*(1+0.12*(u-0.4)))
	r.snv = math.Round(dens*r.meanIncome*10) / 10
	men := float64(r.men)
	pov := math.Max(0.01, math.Min(0.7, 0.14*math.Pow(22000/r.meanIncome, 2.2)))
	r.pauv = roundTo(men*pov, gran, r.men)
	r.m1ind = roundTo(men*(0.22+0.3*u), gran, r.men)
	r.m5ind = roundTo(men*0.06*(1.6-u), gran, r.men)
	r.prop = roundTo(men*math.Min(0.9, (0.78-0.5*u)*math.Sqrt(w)), gran, r.men)
	r.fmp = roundTo(men*0.09*(0.7+0.6*u), gran, r.men)
	r.surf = roundTo(men*(108-42*u)*math.Pow(w, 0.3), gran, math.MaxInt64)
	collShare := math.Min(0.98, 0.04+0.94*math.Pow(u, 0.8))
	cm2 := split(r.men, gran, []float64{collShare, 1 - collShare})
	r.coll, r.mais = cm2[0], cm2[1]
	lw := []float64{0.18 + 0.1*u, 0.2 + 0.08*u, 0.25, 0.36 - 0.15*u, 0.01}
	copy(r.logs[:], split(r.men, gran, lw))
	r.soc = roundTo(men*math.Min(0.8, 0.32*u*math.Pow(22000/r.meanIncome, 1.5)), gran, r.men)
	// Ages: older in the countryside and where the commune is older, more young
	// adults in dense areas.
	shift := cm.age + 0.7*(0.45-u) + 0.25*g.norm(sCellAge, uint64(c), 0)
	r.ageShift = shift
	young := 1 + 0.9*u
	aw := []float64{
		4.4 * math.Exp(-0.3*shift), 2.4 * math.Exp(-0.3*shift), 6.0 * math.Exp(-0.3*shift),
		8.4 * math.Exp(-0.2*shift), 7.6 * young, 17.5 * young * math.Exp(-0.2*shift),
		20.0, 12.8 * math.Exp(0.3*shift), 14.2 * math.Exp(0.5*shift), 6.2 * math.Exp(0.6*shift), 0.3,
	}
	ageGran := int64(10)
	if r.imputed {
		ageGran = 1
	} else if r.ind%10 != 0 {
		ageGran = 5
	}
	copy(r.age[:], split(r.ind, ageGran, aw))
	return r
}

// cellPass computes every cell record once: it fills the bureau and IRIS aggregates
// and the households per cell (for the 1 km flags), then writes the grid file.
func (g *generator) cellPass(ctx context.Context) error {
	t := g.t
	g.men = make([]int32, t.ncell)
	for c := range t.ncell {
		r := g.record(c)
		g.men[c] = int32(r.men)
		t.bureaux[t.bureauOf[c]].agg.add(&r)
		t.iris[t.irisOf[c]].agg.add(&r)
		t.bureaux[t.bureauOf[c]].ncell++
		g.totals.Ind += float64(r.ind) / 10
	}
	g.totals.Ind = math.Round(g.totals.Ind*10) / 10
	if !g.cellsW {
		return nil
	}
	return g.writeGrid(ctx)
}

const gridHeader = "idcar_200m,idcar_1km,idcar_nat,i_est_200,i_est_1km,lcog_geo,ind,men,men_pauv,men_1ind,men_5ind,men_prop,men_fmp,ind_snv,men_surf,men_coll,men_mais,log_av45,log_45_70,log_70_90,log_ap90,log_inc,log_soc,ind_0_3,ind_4_5,ind_6_10,ind_11_17,ind_18_24,ind_25_39,ind_40_54,ind_55_64,ind_65_79,ind_80p,ind_inc"

// writeGrid writes carreaux_200m_met.csv: the metropolitan patch, south to north,
// populated cells only, as the Filosofi file has no empty cells.
func (g *generator) writeGrid(ctx context.Context) error {
	t := g.t
	p := &t.patches[0]
	// Households per 1, 2, 4 and 8 km block: the natural-level cell is the smallest
	// holding at least 11 households, and i_est_1km flags 1 km cells below that.
	sizes := []int{5, 10, 20, 40}
	blocks := make([][]int64, len(sizes))
	bw := make([]int, len(sizes))
	for k, sz := range sizes {
		bw[k] = (p.w + sz - 1) / sz
		blocks[k] = make([]int64, bw[k]*((p.h+sz-1)/sz))
	}
	for j := range p.h {
		for i := range p.w {
			m := int64(g.men[p.firstCell+j*p.w+i])
			for k, sz := range sizes {
				blocks[k][(j/sz)*bw[k]+i/sz] += m
			}
		}
	}
	o, err := g.create("carreaux_200m_met.csv", "grid", "filosofi-2019-200m", "UTF-8")
	if err != nil {
		return err
	}
	w := o.w
	w.WriteString(gridHeader + "\n")
	var line []byte
	rows := 0
	var sumInd int64
	for j := range p.h {
		if j%64 == 0 && ctx.Err() != nil {
			o.close()
			return fmt.Errorf("generate: grid: %w", ctx.Err())
		}
		for i := range p.w {
			c := p.firstCell + j*p.w + i
			if t.ind[c] == 0 {
				continue
			}
			r := g.record(c)
			e := int(p.e0) + i*200
			n := int(p.n0) + j*200
			line = line[:0]
			line = fmt.Appendf(line, "CRS3035RES200mN%dE%d,", n, e)
			e1, n1 := e/1000*1000, n/1000*1000
			line = fmt.Appendf(line, "CRS3035RES1000mN%dE%d,", n1, e1)
			nat := len(sizes) - 1
			for k, sz := range sizes {
				if blocks[k][(j/sz)*bw[k]+i/sz] >= 110 {
					nat = k
					break
				}
			}
			ns := sizes[nat] * 200
			line = fmt.Appendf(line, "CRS3035RES%dmN%dE%d,", ns, n/ns*ns, e/ns*ns)
			line = strconv.AppendInt(line, b2i(r.imputed), 10)
			line = append(line, ',')
			line = strconv.AppendInt(line, b2i(blocks[0][(j/5)*bw[0]+i/5] < 110), 10)
			line = append(line, ',')
			line = append(line, g.lcogGeo(c, i, j)...)
			for _, v := range []int64{r.ind, r.men, r.pauv, r.m1ind, r.m5ind, r.prop, r.fmp} {
				line = append(line, ',')
				line = appendTenths(line, v)
			}
			line = append(line, ',')
			line = strconv.AppendFloat(line, r.snv, 'f', -1, 64)
			for _, v := range []int64{r.surf, r.coll, r.mais, r.logs[0], r.logs[1], r.logs[2], r.logs[3], r.logs[4], r.soc} {
				line = append(line, ',')
				line = appendTenths(line, v)
			}
			for _, v := range r.age {
				line = append(line, ',')
				line = appendTenths(line, v)
			}
			line = append(line, '\n')
			w.Write(line)
			rows++
			sumInd += r.ind
		}
	}
	o.entry.Rows = rows
	g.totals.Cells = rows
	g.totals.GridInd = float64(sumInd) / 10
	return o.close()
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// appendTenths prints a count of tenths the way the Filosofi file does: "449.5", "174.0".
func appendTenths(b []byte, v int64) []byte {
	if v < 0 {
		b = append(b, '-')
		v = -v
	}
	b = strconv.AppendInt(b, v/10, 10)
	b = append(b, '.')
	return strconv.AppendInt(b, v%10, 10)
}

// lcogGeo returns the commune code(s) of a cell. Cells on a commune border get the
// concatenated codes of the communes the 200 m square straddles half of the time: the
// jittered borders do cut the squares, and real files concatenate (9200292019).
func (g *generator) lcogGeo(c, i, j int) string {
	t := g.t
	p := &t.patches[0]
	own := t.units[t.unitOf[c]].code
	codes := []string{own}
	for _, d := range [][2]int{{1, 0}, {-1, 0}, {0, 1}, {0, -1}} {
		ii, jj := i+d[0], j+d[1]
		if ii < 0 || jj < 0 || ii >= p.w || jj >= p.h {
			continue
		}
		code := t.units[t.unitOf[p.firstCell+jj*p.w+ii]].code
		if !slices.Contains(codes, code) {
			codes = append(codes, code)
		}
	}
	if len(codes) == 1 || g.unif(sCell, uint64(c), 99) < 0.5 {
		return own
	}
	slices.Sort(codes)
	return strings.Join(codes, "")
}
