package generate

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"
)

// cellSize is the side of a lattice cell in EPSG:3035 metres. The lattice is the
// Filosofi 200 m grid itself, with its vertices jittered: the centre of a grid cell
// always lies in the jittered cell of the same index, so "the cell whose centroid is
// in the bureau" is known without any point-in-polygon test, and neighbouring
// polygons share their vertices exactly.
const cellSize = 200.0

// maxJitter bounds the vertex jitter: below half a cell, the square
// [centre-50 m, centre+50 m]² stays inside every jittered cell.
const maxJitter = 48.0

// patch is a rectangle of the lattice: metropolitan France, or a small overseas
// territory placed at its real position.
type patch struct {
	e0, n0      float64 // lower-left corner, EPSG:3035
	w, h        int
	firstCell   int
	firstVertex int
	metro       bool
}

// unit is a piece of territory that holds bureaux and IRIS: a commune, or a municipal
// arrondissement of Paris.
type unit struct {
	code, name string
	commune    int
	arr        int // arrondissement number, 0 for an ordinary commune
	seedCell   int
	cells      []int32
	pop        int64 // Σ ind of its cells, tenths
	nBureaux   int
	nIRIS      int
	split      bool
	circo      int // circonscription number inside the département
	firstB     int // index of its first bureau in territory.bureaux
	firstI     int // index of its first IRIS in territory.iris
}

type commune struct {
	code, name string
	dept       string // INSEE code
	units      []int
	plm        bool
	seedCell   int
	postal     string
	village    float64 // peak density of the village centre, ind per cell
	wealth     float64 // income factor, around 1
	age        float64 // ageing factor: > 0 older, < 0 younger
	deleguee   string  // name of a delegated commune sharing its code, if any
}

type bureau struct {
	unit  int
	code  string // 4 characters
	key   string // 92002_0001
	idBV  string // 92002_1
	seed  int
	ncell int
	agg   aggregate
}

type irisArea struct {
	unit int
	code string // 9 characters
	typ  string // H, A, D or Z
	name string
	seed int
	agg  aggregate
}

// territory is the whole synthetic country.
type territory struct {
	patches  []patch
	ncell    int
	unitOf   []int32 // per cell
	bureauOf []int32
	irisOf   []int32
	ind      []int32 // per cell, tenths of individuals; 0 when no one lives there
	units    []unit
	communes []commune
	bureaux  []bureau
	iris     []irisArea
	depts    []deptInfo // départements in use, in code order
}

func (t *territory) cellPatch(c int) *patch {
	for i := range t.patches {
		p := &t.patches[i]
		if c >= p.firstCell && c < p.firstCell+p.w*p.h {
			return p
		}
	}
	panic(fmt.Sprintf("generate: cell %d outside the territory", c))
}

// cellIJ returns the patch and local indices of a cell.
func (t *territory) cellIJ(c int) (*patch, int, int) {
	p := t.cellPatch(c)
	k := c - p.firstCell
	return p, k % p.w, k / p.w
}

// city is a density bump.
type city struct {
	ci, cj, sigma, peak float64
}

// scale holds the size parameters of one --scale.
type scale struct {
	name          string
	w, h          int
	e0, n0        float64
	communes      int
	bureaux, iris int
	splitShare    float64 // share of units split into several IRIS
	circoPop      float64 // population per circonscription, in individuals
	paris         bool
	parisR        float64 // radius in cells
	parisPeak     float64 // individuals per cell at the centre
	pci, pcj      float64 // Paris centre, cells
	cities        []city
	randomCities  int
	rural         float64 // background density
	villagePeak   float64
	depts         []string
	overseas      bool
	addrPerBureau int
}

func scaleParams(name string) (scale, error) {
	switch name {
	case "demo":
		// South of Paris, like the 92-13 fixtures: 64 × 64 cells, 12.8 km.
		return scale{
			name: name, w: 64, h: 64, e0: 3752000, n0: 2872000,
			communes: 6, bureaux: 60, iris: 40, splitShare: 0.67, circoPop: 1e9,
			cities: []city{{20, 40, 14, 50}, {48, 18, 9, 30}},
			rural:  1.5, villagePeak: 25, depts: []string{"92"}, addrPerBureau: 6,
		}, nil
	case "department":
		return scale{
			name: name, w: 300, h: 300, e0: 3728000, n0: 2856000,
			communes: 300, bureaux: 1000, iris: 700, splitShare: 0.3, circoPop: 110000,
			paris: true, parisR: 16, parisPeak: 420, pci: 160, pcj: 170,
			cities:       []city{{160, 170, 60, 25}},
			randomCities: 6, rural: 1.2, villagePeak: 25,
			depts:    []string{"92", "93", "94", "91", "95", "77", "78"},
			overseas: true, addrPerBureau: 5,
		}, nil
	case "france":
		var depts []string
		for _, d := range departements() {
			if d.zone == "metro" && d.code != "75" {
				depts = append(depts, d.code)
			}
		}
		return scale{
			name: name, w: 1900, h: 1900, e0: 3568000, n0: 2672000,
			communes: 35000, bureaux: 69000, iris: 48000, splitShare: 0.057, circoPop: 112000,
			paris: true, parisR: 29, parisPeak: 950, pci: 960, pcj: 1090,
			cities:       []city{{960, 1090, 110, 70}},
			randomCities: 70, rural: 5, villagePeak: 45,
			depts: depts, overseas: true, addrPerBureau: 4,
		}, nil
	}
	return scale{}, fmt.Errorf("generate: unknown scale %q (demo, department or france)", name)
}

// overseasCommune places a one-commune territory at its real position.
type overseasCommune struct {
	code, dept string
	lon, lat   float64
}

func overseasCommunes() []overseasCommune {
	return []overseasCommune{
		{"97105", "971", -61.73, 15.99}, // Guadeloupe: coded ZA in legacy results
		{"97411", "974", 55.45, -20.90}, // La Réunion: coded ZD
	}
}

// buildTerritory lays out communes, Paris, bureaux and IRIS, and the population of
// every cell.
func (g *generator) buildTerritory() error {
	s := g.scale
	t := &territory{}
	g.t = t
	t.patches = append(t.patches, patch{e0: s.e0, n0: s.n0, w: s.w, h: s.h, metro: true})
	if s.overseas {
		for _, oc := range overseasCommunes() {
			e, n := g.laea.Forward(oc.lon, oc.lat)
			t.patches = append(t.patches, patch{e0: math.Round(e/1000) * 1000, n0: math.Round(n/1000) * 1000, w: 18, h: 16})
		}
	}
	nc, nv := 0, 0
	for i := range t.patches {
		p := &t.patches[i]
		p.firstCell, p.firstVertex = nc, nv
		nc += p.w * p.h
		nv += (p.w + 1) * (p.h + 1)
	}
	t.ncell = nc
	t.unitOf = make([]int32, nc)
	t.ind = make([]int32, nc)

	g.layoutMetro()
	if s.overseas {
		for k, oc := range overseasCommunes() {
			p := &t.patches[k+1]
			ci := len(t.communes)
			ui := len(t.units)
			seed := p.firstCell + (p.h/2)*p.w + p.w/2
			t.communes = append(t.communes, commune{code: oc.code, dept: oc.dept, units: []int{ui}, seedCell: seed})
			t.units = append(t.units, unit{code: oc.code, commune: ci, seedCell: seed})
			for c := p.firstCell; c < p.firstCell+p.w*p.h; c++ {
				t.unitOf[c] = int32(ui)
			}
		}
	}
	g.communeTraits()
	g.populate()
	g.codesAndNames()
	for c, u := range t.unitOf {
		t.units[u].cells = append(t.units[u].cells, int32(c))
		t.units[u].pop += int64(t.ind[c])
	}
	g.allocate()
	g.subdivide()
	g.circonscriptions()
	return nil
}

// layoutMetro assigns every metropolitan cell to a commune (nearest commune seed, a
// discrete Voronoi diagram) or to a Paris arrondissement.
func (g *generator) layoutMetro() {
	s, t := g.scale, g.t
	p := &t.patches[0]
	nx := max(1, int(math.Round(math.Sqrt(float64(s.communes)*float64(s.w)/float64(s.h)))))
	ny := max(1, int(math.Round(float64(s.communes)/float64(nx))))
	bw, bh := float64(s.w)/float64(nx), float64(s.h)/float64(ny)
	r := g.rng(sCommuneSeeds)
	rp := g.rng(sParis)
	ph1, ph2 := rp.Float64()*2*math.Pi, rp.Float64()*2*math.Pi
	inParis := func(i, j int) bool {
		if !s.paris {
			return false
		}
		dx, dy := float64(i)+0.5-s.pci, float64(j)+0.5-s.pcj
		th := math.Atan2(dy, dx)
		rr := s.parisR * (1 + 0.1*math.Sin(3*th+ph1) + 0.06*math.Sin(5*th+ph2))
		return dx*dx+dy*dy < rr*rr
	}
	// One seed per block, on a cell centre, so that the seed cell belongs to its seed.
	blockSeed := make([]int, nx*ny) // local cell index, or -1 when dropped for Paris
	for by := range ny {
		for bx := range nx {
			i0, i1 := int(math.Ceil(float64(bx)*bw-0.5)), int(math.Ceil(float64(bx+1)*bw-0.5))
			j0, j1 := int(math.Ceil(float64(by)*bh-0.5)), int(math.Ceil(float64(by+1)*bh-0.5))
			i1, j1 = min(max(i1, i0+1), s.w), min(max(j1, j0+1), s.h)
			i := i0 + r.IntN(i1-i0)
			j := j0 + r.IntN(j1-j0)
			if inParis(i, j) {
				blockSeed[by*nx+bx] = -1
				continue
			}
			blockSeed[by*nx+bx] = j*s.w + i
		}
	}
	// Communes, one per kept seed, in block order.
	seedCommune := make([]int, nx*ny)
	for b, sc := range blockSeed {
		seedCommune[b] = -1
		if sc < 0 {
			continue
		}
		seedCommune[b] = len(t.communes)
		t.communes = append(t.communes, commune{units: []int{len(t.units)}, seedCell: p.firstCell + sc})
		t.units = append(t.units, unit{commune: len(t.communes) - 1, seedCell: p.firstCell + sc})
	}
	// Paris: 20 arrondissements spiralling out clockwise from the centre, like the real ones.
	var arrSeeds [][2]float64
	var parisUnits []int
	if s.paris {
		pc := len(t.communes)
		t.communes = append(t.communes, commune{code: "75056", dept: "75", plm: true})
		for k := range 20 {
			f := float64(k) / 19
			rad := s.parisR * (0.12 + 0.78*math.Pow(f, 0.85))
			th := math.Pi/2 - f*1.8*2*math.Pi + rp.NormFloat64()*0.05
			ci, cj := s.pci+rad*math.Cos(th), s.pcj+rad*math.Sin(th)
			arrSeeds = append(arrSeeds, [2]float64{ci, cj})
			i, j := int(ci), int(cj)
			t.communes[pc].units = append(t.communes[pc].units, len(t.units))
			parisUnits = append(parisUnits, len(t.units))
			t.units = append(t.units, unit{commune: pc, arr: k + 1, seedCell: p.firstCell + j*s.w + i,
				code: fmt.Sprintf("751%02d", k+1)})
		}
		t.communes[pc].seedCell = t.units[parisUnits[0]].seedCell
	}
	bmin := math.Min(bw, bh)
	for j := range s.h {
		for i := range s.w {
			c := p.firstCell + j*s.w + i
			x, y := float64(i)+0.5, float64(j)+0.5
			if inParis(i, j) {
				best, bd := 0, math.Inf(1)
				for k, a := range arrSeeds {
					if d := (a[0]-x)*(a[0]-x) + (a[1]-y)*(a[1]-y); d < bd {
						best, bd = k, d
					}
				}
				t.unitOf[c] = int32(parisUnits[best])
				continue
			}
			bx, by := min(int(x/bw), nx-1), min(int(y/bh), ny-1)
			best, bd := -1, math.Inf(1)
			for ring := 0; ; ring++ {
				for yy := by - ring; yy <= by+ring; yy++ {
					for xx := bx - ring; xx <= bx+ring; xx++ {
						if xx < 0 || yy < 0 || xx >= nx || yy >= ny || (max(abs(xx-bx), abs(yy-by)) != ring) {
							continue
						}
						sc := blockSeed[yy*nx+xx]
						if sc < 0 {
							continue
						}
						si, sj := float64(sc%s.w)+0.5, float64(sc/s.w)+0.5
						d := (si-x)*(si-x) + (sj-y)*(sj-y)
						if d < bd || d == bd && seedCommune[yy*nx+xx] < best {
							best, bd = seedCommune[yy*nx+xx], d
						}
					}
				}
				if best >= 0 && float64(ring-1)*bmin > math.Sqrt(bd) || ring > nx+ny {
					break
				}
			}
			t.unitOf[c] = int32(t.communes[best].units[0])
		}
	}
	// Départements: nearest of a few seeds spread over the patch.
	nd := len(s.depts)
	dx := int(math.Ceil(math.Sqrt(float64(nd))))
	dy := (nd + dx - 1) / dx
	rd := g.rng(sDeptSeeds)
	type dseed struct{ x, y float64 }
	var ds []dseed
	for k := range nd {
		bx, by := k%dx, k/dx
		ds = append(ds, dseed{(float64(bx) + 0.2 + 0.6*rd.Float64()) * float64(s.w) / float64(dx),
			float64(s.h) - (float64(by)+0.2+0.6*rd.Float64())*float64(s.h)/float64(dy)})
	}
	for ci := range t.communes {
		cm := &t.communes[ci]
		if cm.plm {
			continue
		}
		_, i, j := t.cellIJ(cm.seedCell)
		best, bd := 0, math.Inf(1)
		for k, d := range ds {
			if dd := math.Hypot(d.x-float64(i), d.y-float64(j)); dd < bd {
				best, bd = k, dd
			}
		}
		cm.dept = s.depts[best]
	}
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// communeTraits draws each commune's village size, wealth and age profile. Wealth is
// smooth in space (a few random waves) plus a commune-level draw, so that rich and
// poor areas span several communes, as real ones do.
func (g *generator) communeTraits() {
	t := g.t
	r := g.rng(sWealth)
	type wave struct{ kx, ky, ph, amp float64 }
	var waves []wave
	for range 4 {
		waves = append(waves, wave{r.NormFloat64() * 0.02, r.NormFloat64() * 0.02, r.Float64() * 2 * math.Pi, 0.12})
	}
	rv := g.rng(sVillage)
	for ci := range t.communes {
		cm := &t.communes[ci]
		_, i, j := t.cellIJ(cm.seedCell)
		w := 0.0
		for _, wv := range waves {
			w += wv.amp * math.Sin(wv.kx*float64(i)+wv.ky*float64(j)+wv.ph)
		}
		cm.wealth = math.Exp(w + 0.18*rv.NormFloat64())
		cm.age = 0.5 * rv.NormFloat64()
		cm.village = g.scale.villagePeak * math.Exp(0.6*rv.NormFloat64())
		if cm.plm {
			cm.wealth *= 1.25
			cm.age = -0.4
		}
	}
}

// populate sets the number of individuals of every cell (tenths): city bumps, a
// village centre per commune, a rural background, and empty cells where the density
// is low, as in the Filosofi grid where most of the territory is unpopulated.
func (g *generator) populate() {
	s, t := g.scale, g.t
	cities := slices.Clone(s.cities)
	r := g.rng(sCities)
	for range s.randomCities {
		cities = append(cities, city{
			ci: 10 + r.Float64()*float64(s.w-20), cj: 10 + r.Float64()*float64(s.h-20),
			sigma: 4 + r.Float64()*10, peak: 90 * math.Exp(0.5*r.NormFloat64()),
		})
	}
	for c := range t.ncell {
		p, i, j := t.cellIJ(c)
		u := &t.units[t.unitOf[c]]
		cm := &t.communes[u.commune]
		x, y := float64(i)+0.5, float64(j)+0.5
		var dens float64
		switch {
		case cm.plm:
			d := math.Hypot(x-s.pci, y-s.pcj) / s.parisR
			dens = s.parisPeak * (1 - 0.35*d*d)
		default:
			if p.metro {
				for _, ct := range cities {
					dx, dy := x-ct.ci, y-ct.cj
					if math.Abs(dx) > 4*ct.sigma || math.Abs(dy) > 4*ct.sigma {
						continue
					}
					dens += ct.peak * math.Exp(-(dx*dx+dy*dy)/(2*ct.sigma*ct.sigma))
				}
			}
			_, si, sj := t.cellIJ(cm.seedCell)
			dv := math.Hypot(x-float64(si)-0.5, y-float64(sj)-0.5)
			dens += cm.village*math.Exp(-dv*dv/4.5) + s.rural
		}
		if !cm.plm && c != cm.seedCell && g.unif(sPopulated, uint64(c), 0) > 1-math.Exp(-dens/6) {
			continue
		}
		v := dens * math.Exp(0.45*g.norm(sPopNoise, uint64(c), 0)-0.1)
		if c == cm.seedCell {
			v = math.Max(v, 12)
		}
		// ind is published whole, sometimes with a half (seen in real files).
		tenths := int32(math.Round(v)) * 10
		if g.unif(sPopNoise, uint64(c), 1) < 0.04 {
			tenths += 5
		}
		t.ind[c] = max(tenths, 10)
	}
}

// codesAndNames numbers the communes of each département in space order and names
// them.
func (g *generator) codesAndNames() {
	t := g.t
	names := newNamer(g.rng(sNames))
	byDept := map[string][]int{}
	var deptCodes []string
	for ci, cm := range t.communes {
		if cm.plm || cm.code != "" {
			continue
		}
		if _, ok := byDept[cm.dept]; !ok {
			deptCodes = append(deptCodes, cm.dept)
		}
		byDept[cm.dept] = append(byDept[cm.dept], ci)
	}
	slices.Sort(deptCodes)
	r := g.rng(sCommunes)
	for _, d := range deptCodes {
		cs := byDept[d]
		slices.SortFunc(cs, func(a, b int) int {
			_, ai, aj := t.cellIJ(t.communes[a].seedCell)
			_, bi, bj := t.cellIJ(t.communes[b].seedCell)
			return cmp.Or(cmp.Compare(bj/8, aj/8), cmp.Compare(ai, bi), cmp.Compare(bj, aj))
		})
		gaps := len(cs)*2 < 990
		num := 0
		for _, ci := range cs {
			num++
			if gaps && r.Float64() < 0.35 {
				num++
			}
			t.communes[ci].code = fmt.Sprintf("%s%03d", d, num)
		}
	}
	for ci := range t.communes {
		cm := &t.communes[ci]
		switch {
		case cm.plm:
			cm.name = "Paris"
			for k, ui := range cm.units {
				if k == 0 {
					t.units[ui].name = "Paris 1er Arrondissement"
				} else {
					t.units[ui].name = fmt.Sprintf("Paris %de Arrondissement", k+1)
				}
			}
		default:
			cm.name = names.commune()
			t.units[cm.units[0]].code = cm.code
			t.units[cm.units[0]].name = cm.name
			if r.Float64() < 0.02 {
				cm.deleguee = names.commune()
			}
		}
		cm.postal = postalCode(cm.code, r.IntN(9))
	}
	// Départements in use, in code order.
	used := map[string]bool{}
	for _, cm := range t.communes {
		used[cm.dept] = true
	}
	for _, d := range departements() {
		if used[d.code] {
			t.depts = append(t.depts, d)
		}
	}
}

func postalCode(code string, k int) string {
	switch {
	case strings.HasPrefix(code, "2A"):
		return "200" + fmt.Sprint(k%9+1) + "0"
	case strings.HasPrefix(code, "2B"):
		return "202" + fmt.Sprint(k%9+1) + "0"
	case len(code) == 5 && code[:2] == "97":
		return code[:3] + fmt.Sprint(k%9+1) + "0"
	}
	return code[:2] + fmt.Sprintf("%d%d0", k%9+1, (k*7)%10)
}

// allocate sets the number of bureaux and IRIS of every unit: bureaux in proportion to
// registered voters (one per divisor, at least one), IRIS for the most populated
// units, each divisor searched so that the totals hit the scale's targets.
func (g *generator) allocate() {
	s, t := g.scale, g.t
	populated := make([]int, len(t.units))
	for ui, u := range t.units {
		for _, c := range u.cells {
			if t.ind[c] > 0 {
				populated[ui]++
			}
		}
	}
	capOf := func(ui int, n int) int {
		n = min(n, populated[ui])
		if t.units[ui].arr > 0 {
			n = min(n, 99) // Paris bureau codes are AANN
		}
		return max(n, 1)
	}
	count := func(div float64) int {
		n := 0
		for ui, u := range t.units {
			n += capOf(ui, int(math.Round(float64(u.pop)/10*0.7/div)))
		}
		return n
	}
	div := searchDivisor(count, s.bureaux)
	for ui := range t.units {
		t.units[ui].nBureaux = capOf(ui, int(math.Round(float64(t.units[ui].pop)/10*0.7/div)))
	}
	// IRIS: Paris arrondissements and the most populated communes are split.
	order := make([]int, len(t.units))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(t.units[b].pop, t.units[a].pop) })
	nsplit := int(math.Round(s.splitShare * float64(len(t.units))))
	for k, ui := range order {
		if k < nsplit || t.units[ui].arr > 0 {
			t.units[ui].split = populated[ui] >= 2
		}
	}
	countI := func(div float64) int {
		n := 0
		for ui, u := range t.units {
			if u.split {
				n += max(2, min(populated[ui], 9999, int(math.Round(float64(u.pop)/10/div))))
			} else {
				n++
			}
		}
		return n
	}
	divI := searchDivisor(countI, s.iris)
	for ui := range t.units {
		u := &t.units[ui]
		u.nIRIS = 1
		if u.split {
			u.nIRIS = max(2, min(populated[ui], 9999, int(math.Round(float64(u.pop)/10/divI))))
		}
	}
}

// searchDivisor finds the divisor whose count is closest to target; count must not
// increase with the divisor.
func searchDivisor(count func(float64) int, target int) float64 {
	lo, hi := 1e-3, 1e9
	for range 80 {
		mid := math.Sqrt(lo * hi)
		if count(mid) > target {
			lo = mid
		} else {
			hi = mid
		}
	}
	if abs(count(lo)-target) < abs(count(hi)-target) {
		return lo
	}
	return hi
}

// subdivide splits every unit into bureaux and, independently, into IRIS: each is the
// discrete Voronoi diagram of seeds drawn among the populated cells with probability
// proportional to their population. Two different seed sets make IRIS and bureaux
// overlap without aligning, as in reality.
func (g *generator) subdivide() {
	t := g.t
	t.bureauOf = make([]int32, t.ncell)
	t.irisOf = make([]int32, t.ncell)
	rb, ri := g.rng(sBureauSeeds), g.rng(sIRISSeeds)
	rk := g.rng(sIRISKind)
	names := newNamer(g.rng(sNames + 100))
	for ui := range t.units {
		u := &t.units[ui]
		cm := &t.communes[u.commune]
		bseeds := g.pickSeeds(rb, u, u.nBureaux)
		u.firstB = len(t.bureaux)
		g.assign(u, bseeds, t.bureauOf, int32(u.firstB))
		for k, sc := range bseeds {
			var code, idBV string
			if u.arr > 0 {
				code = fmt.Sprintf("%02d%02d", u.arr, k+1)
				idBV = fmt.Sprintf("%s_%d%02d", cm.code, u.arr, k+1)
			} else {
				code = fmt.Sprintf("%04d", k+1)
				idBV = fmt.Sprintf("%s_%d", cm.code, k+1)
			}
			t.bureaux = append(t.bureaux, bureau{unit: ui, code: code, key: cm.code + "_" + code, idBV: idBV, seed: sc})
		}
		iseeds := g.pickSeeds(ri, u, u.nIRIS)
		u.firstI = len(t.iris)
		g.assign(u, iseeds, t.irisOf, int32(u.firstI))
		for k, sc := range iseeds {
			ir := irisArea{unit: ui, seed: sc, typ: "Z", code: u.code + "0000", name: u.name}
			if u.split {
				ir.code = fmt.Sprintf("%s%02d%02d", u.code, k/4+1, k%4+1)
				ir.typ = "H"
				switch x := rk.Float64(); {
				case x < 0.05:
					ir.typ = "A"
				case x < 0.07:
					ir.typ = "D"
				}
				ir.name = names.quartier()
			}
			t.iris = append(t.iris, ir)
		}
	}
}

// pickSeeds draws n distinct populated cells of u, weighted by population
// (Efraimidis–Spirakis keys), and orders them north to south, west to east, as
// bureau numbers often run.
func (g *generator) pickSeeds(r interface{ Float64() float64 }, u *unit, n int) []int {
	t := g.t
	type cand struct {
		c   int
		key float64
	}
	cands := make([]cand, 0, len(u.cells))
	for _, c := range u.cells {
		if t.ind[c] > 0 {
			cands = append(cands, cand{int(c), math.Pow(r.Float64(), 1/float64(t.ind[c]))})
		}
	}
	slices.SortFunc(cands, func(a, b cand) int { return cmp.Or(cmp.Compare(b.key, a.key), cmp.Compare(a.c, b.c)) })
	seeds := make([]int, 0, n)
	for _, cd := range cands[:n] {
		seeds = append(seeds, cd.c)
	}
	slices.SortFunc(seeds, func(a, b int) int {
		_, ai, aj := t.cellIJ(a)
		_, bi, bj := t.cellIJ(b)
		return cmp.Or(cmp.Compare(bj/4, aj/4), cmp.Compare(ai, bi), cmp.Compare(bj, aj))
	})
	return seeds
}

// assign gives every cell of u the index (first + k) of its nearest seed.
func (g *generator) assign(u *unit, seeds []int, of []int32, first int32) {
	t := g.t
	type pt struct{ x, y float64 }
	sp := make([]pt, len(seeds))
	for k, sc := range seeds {
		_, i, j := t.cellIJ(sc)
		sp[k] = pt{float64(i), float64(j)}
	}
	p := t.cellPatch(int(u.cells[0]))
	for _, c := range u.cells {
		k := int(c) - p.firstCell
		x, y := float64(k%p.w), float64(k/p.w)
		best, bd := 0, math.Inf(1)
		for s, q := range sp {
			if d := (q.x-x)*(q.x-x) + (q.y-y)*(q.y-y); d < bd {
				best, bd = s, d
			}
		}
		of[c] = first + int32(best)
	}
}

// circonscriptions cuts each département into legislative constituencies of similar
// population: units sorted by angle around the département's centre, cut into
// contiguous slices.
func (g *generator) circonscriptions() {
	s, t := g.scale, g.t
	byDept := map[string][]int{}
	for ui, u := range t.units {
		d := t.communes[u.commune].dept
		byDept[d] = append(byDept[d], ui)
	}
	for _, d := range t.depts {
		us := byDept[d.code]
		var pop float64
		var cx, cy float64
		for _, ui := range us {
			pop += float64(t.units[ui].pop) / 10
			_, i, j := t.cellIJ(t.units[ui].seedCell)
			cx += float64(i)
			cy += float64(j)
		}
		cx /= float64(len(us))
		cy /= float64(len(us))
		n := max(1, int(math.Round(pop/s.circoPop)))
		g.totals.Circonscriptions += min(n, len(us))
		ang := func(ui int) float64 {
			_, i, j := t.cellIJ(t.units[ui].seedCell)
			return math.Atan2(float64(j)-cy, float64(i)-cx)
		}
		slices.SortFunc(us, func(a, b int) int { return cmp.Or(cmp.Compare(ang(a), ang(b)), cmp.Compare(a, b)) })
		var acc float64
		for _, ui := range us {
			k := min(n, 1+int(acc/pop*float64(n)))
			acc += float64(t.units[ui].pop) / 10
			t.units[ui].circo = k
		}
	}
}
