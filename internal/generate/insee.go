package generate

import (
	"cmp"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// cogCommune is a record of @etalab/decoupage-administratif's communes.json.
type cogCommune struct {
	Code           string   `json:"code"`
	Nom            string   `json:"nom"`
	TypeLiaison    int      `json:"typeLiaison"`
	Zone           string   `json:"zone"`
	Arrondissement string   `json:"arrondissement,omitempty"`
	Departement    string   `json:"departement"`
	Region         string   `json:"region"`
	Type           string   `json:"type"`
	RangChefLieu   *int     `json:"rangChefLieu,omitempty"`
	ChefLieu       string   `json:"chefLieu,omitempty"`
	Commune        string   `json:"commune,omitempty"`
	Siren          string   `json:"siren,omitempty"`
	CodesPostaux   []string `json:"codesPostaux,omitempty"`
	Population     *int     `json:"population,omitempty"`
}

// tncc splits a name into INSEE's article type and the name without its article.
func tncc(name string) (int, string) {
	for _, a := range []struct {
		prefix string
		t      int
	}{{"Le ", 2}, {"La ", 3}, {"Les ", 4}, {"L'", 5}} {
		if rest, ok := strings.CutPrefix(name, a.prefix); ok {
			return a.t, rest
		}
	}
	if startsWithVowel(name) {
		return 1, name
	}
	return 0, name
}

func (g *generator) dept(code string) deptInfo {
	for _, d := range g.t.depts {
		if d.code == code {
			return d
		}
	}
	return deptInfo{}
}

func zoneOf(dept string) string {
	if len(dept) == 3 {
		return "drom"
	}
	return "metro"
}

// adminArr is the code of the administrative arrondissement: département + one digit.
func adminArr(dept string, k int) string { return fmt.Sprintf("%s%d", dept, k%3+1) }

func siren(code string) string {
	d := strings.NewReplacer("A", "0", "B", "0").Replace(code)
	return "21" + d + "01"
}

func (g *generator) communePop(cm *commune) int {
	var pop int64
	for _, ui := range cm.units {
		pop += g.t.units[ui].pop
	}
	return int(math.Round(float64(pop) / 10))
}

// communeOrder returns commune indices sorted by code.
func (g *generator) communeOrder() []int {
	t := g.t
	order := make([]int, len(t.communes))
	for k := range order {
		order[k] = k
	}
	slices.SortFunc(order, func(a, b int) int { return cmp.Compare(t.communes[a].code, t.communes[b].code) })
	return order
}

// writeCommunes writes communes.json and departements.json (the npm package's shape:
// one compact record per line) and v_commune_2024.csv (INSEE's COG CSV).
func (g *generator) writeCommunes(ctx context.Context) error {
	t := g.t
	zero := 0
	var recs []cogCommune
	chefLieu := map[string]string{}
	best := map[string]int{}
	for k, ci := range g.communeOrder() {
		cm := &t.communes[ci]
		d := g.dept(cm.dept)
		tl, _ := tncc(cm.name)
		pop := g.communePop(cm)
		if pop > best[cm.dept] {
			best[cm.dept], chefLieu[cm.dept] = pop, cm.code
		}
		rec := cogCommune{Code: cm.code, Nom: cm.name, TypeLiaison: tl, Zone: zoneOf(cm.dept), Arrondissement: adminArr(cm.dept, k),
			Departement: cm.dept, Region: d.region, Type: "commune-actuelle", RangChefLieu: &zero, Siren: siren(cm.code),
			CodesPostaux: []string{cm.postal}, Population: &pop}
		if cm.plm {
			rec.Arrondissement = "751"
			rec.CodesPostaux = nil
			for k := range cm.units {
				rec.CodesPostaux = append(rec.CodesPostaux, fmt.Sprintf("750%02d", k+1))
			}
		}
		recs = append(recs, rec)
		if cm.deleguee != "" {
			// A delegated commune sharing the code of its commune nouvelle: codes are
			// not unique in the real file either.
			tl, _ := tncc(cm.deleguee)
			recs = append(recs, cogCommune{Code: cm.code, Nom: cm.deleguee, TypeLiaison: tl, Zone: rec.Zone, Arrondissement: rec.Arrondissement,
				Departement: cm.dept, Region: d.region, Type: "commune-deleguee", ChefLieu: cm.code})
		}
		for k, ui := range cm.units {
			if !cm.plm {
				break
			}
			u := &t.units[ui]
			upop := int(math.Round(float64(u.pop) / 10))
			recs = append(recs, cogCommune{Code: u.code, Nom: u.name, Zone: "metro", Type: "arrondissement-municipal", Commune: cm.code,
				Arrondissement: "751", Departement: "75", Region: d.region, CodesPostaux: []string{fmt.Sprintf("750%02d", k+1)}, Population: &upop})
			g.totals.Arrondissements++
		}
	}
	o, err := g.create("communes.json", "communes", "etalab-decoupage-administratif", "UTF-8")
	if err != nil {
		return err
	}
	o.w.WriteString("[\n")
	for k, rec := range recs {
		b, err := json.Marshal(rec)
		if err != nil {
			o.close()
			return fmt.Errorf("generate: communes.json: %w", err)
		}
		if k > 0 {
			o.w.WriteString(",\n")
		}
		o.w.Write(b)
	}
	o.w.WriteString("\n]\n")
	o.entry.Rows = len(recs)
	if err := o.close(); err != nil {
		return err
	}
	g.totals.Communes = len(t.communes)

	o, err = g.create("departements.json", "communes", "etalab-decoupage-administratif", "UTF-8")
	if err != nil {
		return err
	}
	o.w.WriteString("[\n")
	for k, d := range t.depts {
		type dep struct {
			Code        string `json:"code"`
			Region      string `json:"region"`
			ChefLieu    string `json:"chefLieu"`
			Nom         string `json:"nom"`
			TypeLiaison int    `json:"typeLiaison"`
			Zone        string `json:"zone"`
		}
		b, _ := json.Marshal(dep{d.code, d.region, chefLieu[d.code], d.name, d.typeLiaison, d.zone})
		if k > 0 {
			o.w.WriteString(",\n")
		}
		o.w.Write(b)
	}
	o.w.WriteString("\n]\n")
	o.entry.Rows = len(t.depts)
	g.totals.Departements = len(t.depts)
	if err := o.close(); err != nil {
		return err
	}

	o, err = g.create("v_commune_2024.csv", "communes", "insee-cog-csv", "UTF-8")
	if err != nil {
		return err
	}
	cw := csv.NewWriter(o.w)
	cw.Write(strings.Split("TYPECOM,COM,REG,DEP,CTCD,ARR,TNCC,NCC,NCCENR,LIBELLE,CAN,COMPARENT", ","))
	rows := 0
	for k, ci := range g.communeOrder() {
		cm := &t.communes[ci]
		d := g.dept(cm.dept)
		tl, bare := tncc(cm.name)
		ctcd := cm.dept + "D"
		arr := adminArr(cm.dept, k)
		can := fmt.Sprintf("%s%02d", cm.dept, t.units[cm.units[0]].circo)
		if cm.plm {
			ctcd, arr, can = "75C", "751", ""
		}
		cw.Write([]string{"COM", cm.code, d.region, cm.dept, ctcd, arr, strconv.Itoa(tl), upperPlain(bare), bare, cm.name, can, ""})
		rows++
		if cm.deleguee != "" {
			tl, bare := tncc(cm.deleguee)
			cw.Write([]string{"COMD", cm.code, "", "", "", "", strconv.Itoa(tl), upperPlain(bare), bare, cm.deleguee, "", cm.code})
			rows++
		}
		if cm.plm {
			for _, ui := range cm.units {
				u := &t.units[ui]
				cw.Write([]string{"ARM", u.code, "", "", "", "", "0", upperPlain(u.name), u.name, u.name, "", cm.code})
				rows++
			}
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		o.close()
		return fmt.Errorf("generate: v_commune_2024.csv: %w", err)
	}
	o.entry.Rows = rows
	return o.close()
}

// fmtFloat prints a weighted count the way INSEE's census files do: up to 15
// significant digits, no exponent, integers without a decimal point.
func fmtFloat(v float64) string {
	if v == 0 {
		return "0"
	}
	r, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'g', 15, 64), 64)
	return strconv.FormatFloat(r, 'f', -1, 64)
}

const censusHeader = "IRIS;COM;TYP_IRIS;LAB_IRIS;P20_POP;P20_POP0002;P20_POP0305;P20_POP0610;P20_POP1117;P20_POP1824;P20_POP2539;P20_POP4054;P20_POP5564;P20_POP6579;P20_POP80P;P20_POP0014;P20_POP1529;P20_POP3044;P20_POP4559;P20_POP6074;P20_POP75P;P20_POP0019;P20_POP2064;P20_POP65P;P20_POPH;P20_H0014;P20_H1529;P20_H3044;P20_H4559;P20_H6074;P20_H75P;P20_H0019;P20_H2064;P20_H65P;P20_POPF;P20_F0014;P20_F1529;P20_F3044;P20_F4559;P20_F6074;P20_F75P;P20_F0019;P20_F2064;P20_F65P;C20_POP15P;C20_POP15P_CS1;C20_POP15P_CS2;C20_POP15P_CS3;C20_POP15P_CS4;C20_POP15P_CS5;C20_POP15P_CS6;C20_POP15P_CS7;C20_POP15P_CS8;C20_H15P;C20_H15P_CS1;C20_H15P_CS2;C20_H15P_CS3;C20_H15P_CS4;C20_H15P_CS5;C20_H15P_CS6;C20_H15P_CS7;C20_H15P_CS8;C20_F15P;C20_F15P_CS1;C20_F15P_CS2;C20_F15P_CS3;C20_F15P_CS4;C20_F15P_CS5;C20_F15P_CS6;C20_F15P_CS7;C20_F15P_CS8;P20_POP_FR;P20_POP_ETR;P20_POP_IMM;P20_PMEN;P20_PHORMEN"

// yearProfile spreads the Filosofi age bands of an aggregate over single years 0..99:
// uniform inside a band, declining past 80; individuals of unknown age follow the rest.
func yearProfile(a *aggregate) [100]float64 {
	var y [100]float64
	bands := [][2]int{{0, 3}, {4, 5}, {6, 10}, {11, 17}, {18, 24}, {25, 39}, {40, 54}, {55, 64}, {65, 79}}
	var known float64
	for k := a0_3; k <= a80p; k++ {
		known += float64(a.age[k])
	}
	scale := 1.0
	if known > 0 {
		scale = (known + float64(a.age[aInc])) / known / 10
	}
	for k, b := range bands {
		v := float64(a.age[k]) * scale / float64(b[1]-b[0]+1)
		for yr := b[0]; yr <= b[1]; yr++ {
			y[yr] = v
		}
	}
	var wsum float64
	for yr := 80; yr < 100; yr++ {
		wsum += math.Pow(0.86, float64(yr-80))
	}
	for yr := 80; yr < 100; yr++ {
		y[yr] = float64(a.age[a80p]) * scale * math.Pow(0.86, float64(yr-80)) / wsum
	}
	return y
}

func maleShare(age int) float64 {
	switch {
	case age < 20:
		return 0.512
	case age < 60:
		return 0.493
	case age < 75:
		return 0.47
	}
	return 0.38
}

// writeCensus writes base-ic-evol-struct-pop-2020.CSV: one row per IRIS, P20_POP the
// sum of the individuals of the grid cells whose centre is in the IRIS, and the
// breakdowns summing exactly as in the real file.
func (g *generator) writeCensus(ctx context.Context) error {
	t := g.t
	o, err := g.create("base-ic-evol-struct-pop-2020.CSV", "census", "insee-base-ic-evol-struct-pop-2020", "UTF-8")
	if err != nil {
		return err
	}
	o.w.WriteString(censusHeader + "\n")
	var total float64
	var row []string
	for _, ii := range g.irisOrder() {
		ir := &t.iris[ii]
		u := &t.units[ir.unit]
		a := &ir.agg
		pop := float64(a.ind) / 10
		total += pop
		y := yearProfile(a)
		sum := func(lo, hi int, f func(int) float64) float64 {
			var s float64
			for yr := lo; yr <= min(hi, 99); yr++ {
				s += y[yr] * f(yr)
			}
			return s
		}
		all := func(int) float64 { return 1 }
		male := func(yr int) float64 { return maleShare(yr) }
		female := func(yr int) float64 { return 1 - maleShare(yr) }
		lab := "1"
		if ir.typ == "Z" {
			lab = "5"
		}
		row = append(row[:0], ir.code, u.code, ir.typ, lab, fmtFloat(pop))
		for _, b := range [][2]int{{0, 2}, {3, 5}, {6, 10}, {11, 17}, {18, 24}, {25, 39}, {40, 54}, {55, 64}, {65, 79}, {80, 99},
			{0, 14}, {15, 29}, {30, 44}, {45, 59}, {60, 74}, {75, 99}, {0, 19}, {20, 64}, {65, 99}} {
			row = append(row, fmtFloat(sum(b[0], b[1], all)))
		}
		for _, f := range []func(int) float64{male, female} {
			row = append(row, fmtFloat(sum(0, 99, f)))
			for _, b := range [][2]int{{0, 14}, {15, 29}, {30, 44}, {45, 59}, {60, 74}, {75, 99}, {0, 19}, {20, 64}, {65, 99}} {
				row = append(row, fmtFloat(sum(b[0], b[1], f)))
			}
		}
		// Socio-professional categories of people aged 15 or more (complementary
		// exploitation: a second estimate, close to but not equal to the main one).
		var income, old, urban float64 = 22000, 0.2, 0.5
		if a.ind > 0 {
			income = a.snv / (float64(a.ind) / 10)
			old = float64(a.age[a65_79]+a.age[a80p]) / float64(a.ind)
			urban = math.Min(1, math.Log1p(pop/float64(max(1, a.popCells)))/math.Log1p(700))
		}
		z := math.Log(income / 22000)
		p15 := sum(15, 99, all) * (1 + 0.008*g.norm(sCensus, uint64(ii), 0))
		cs := []float64{
			0.008 * 3 * (1 - urban) * (1 - urban), 0.035, 0.10 * math.Exp(2*z) * (0.6 + 0.8*urban), 0.14 * math.Exp(0.4*z),
			0.16 * math.Exp(-0.7*z), 0.12 * math.Exp(-1.5*z) * (1.3 - 0.6*urban), 0.27 * old / 0.2, 0.165 * math.Exp(-0.5*z),
		}
		var sw float64
		for _, v := range cs {
			sw += v
		}
		hs := []float64{0.7, 0.72, 0.6, 0.5, 0.24, 0.8, 0.46, 0.4}
		var pcs, hcs, fcs [8]float64
		var h15 float64
		for k := range cs {
			pcs[k] = p15 * cs[k] / sw
			hcs[k] = pcs[k] * hs[k]
			fcs[k] = pcs[k] - hcs[k]
			h15 += hcs[k]
		}
		row = append(row, fmtFloat(p15))
		for _, v := range pcs {
			row = append(row, fmtFloat(v))
		}
		row = append(row, fmtFloat(h15))
		for _, v := range hcs {
			row = append(row, fmtFloat(v))
		}
		row = append(row, fmtFloat(p15-h15))
		for _, v := range fcs {
			row = append(row, fmtFloat(v))
		}
		etr := pop * math.Min(0.4, 0.07*math.Exp(-0.6*z)*(0.4+urban))
		pmen := pop * (0.985 - 0.01*g.unif(sCensus, uint64(ii), 1))
		row = append(row, fmtFloat(pop-etr), fmtFloat(etr), fmtFloat(etr*1.45), fmtFloat(pmen), fmtFloat(pop-pmen))
		o.w.WriteString(strings.Join(row, ";"))
		o.w.WriteString("\n")
	}
	o.entry.Rows = len(t.iris)
	g.totals.P20Pop = math.Round(total*10) / 10
	return o.close()
}

const filoIRISHeader = "IRIS;DISP_TP6018;DISP_Q118;DISP_MED18;DISP_Q318;DISP_EQ18;DISP_D118;DISP_D218;DISP_D318;DISP_D418;DISP_D618;DISP_D718;DISP_D818;DISP_D918;DISP_RD18;DISP_S80S2018;DISP_GI18;DISP_PACT18;DISP_PTSA18;DISP_PCHO18;DISP_PBEN18;DISP_PPEN18;DISP_PPAT18;DISP_PPSOC18;DISP_PPFAM18;DISP_PPMINI18;DISP_PPLOGT18;DISP_PIMPOT18;DISP_NOTE18"

func roundN(v float64, d int) string {
	p := math.Pow(10, float64(d))
	return strconv.FormatFloat(math.Round(v*p)/p, 'f', -1, 64)
}

// writeFilosofiIRIS writes BASE_TD_FILO_DISP_IRIS_2018.csv: intensive income
// indicators of the IRIS of split communes (no …0000 codes, as in the real file),
// CRLF, empty fields where secrecy applies.
func (g *generator) writeFilosofiIRIS(ctx context.Context) error {
	t := g.t
	o, err := g.create("BASE_TD_FILO_DISP_IRIS_2018.csv", "census", "insee-filosofi-disp-iris-2018", "ASCII")
	if err != nil {
		return err
	}
	o.w.WriteString(filoIRISHeader + "\r\n")
	rows := 0
	for _, ii := range g.irisOrder() {
		ir := &t.iris[ii]
		if ir.typ == "Z" || t.communes[t.units[ir.unit].commune].dept == "971" {
			continue
		}
		a := &ir.agg
		pop := float64(a.ind) / 10
		rows++
		o.w.WriteString(ir.code)
		if pop < 200 || a.men < 500 {
			o.w.WriteString(strings.Repeat(";", 27) + ";5\r\n")
			continue
		}
		mean := a.snv / pop
		z := math.Log(mean / 22000)
		med := mean * 0.93
		spread := 1 + 0.35*z + 0.04*g.norm(sFilo, uint64(ii), 0)
		q := func(f float64) float64 { return math.Round(med*(1+(f-1)*spread)/10) * 10 }
		d := []float64{q(0.55), q(0.68), q(0.79), q(0.9), q(1.11), q(1.24), q(1.42), q(1.78)}
		q1, q3 := q(0.73), q(1.33)
		pov := 100 * float64(a.pauv) / float64(max(1, a.men))
		old := float64(a.age[a65_79]+a.age[a80p]) / float64(max(1, a.ind))
		tp := ""
		if pop >= 1000 {
			tp = roundN(pov, 1)
		}
		ppen := 27 * old / 0.2
		pact := 100 - ppen*0.8 + 4*z
		vals := []string{
			tp, roundN(q1, 0), roundN(math.Round(med/10)*10, 0), roundN(q3, 0), roundN((q3-q1)/med, 2),
			roundN(d[0], 0), roundN(d[1], 0), roundN(d[2], 0), roundN(d[3], 0), roundN(d[4], 0), roundN(d[5], 0), roundN(d[6], 0), roundN(d[7], 0),
			roundN(d[7]/d[0], 1), roundN(d[7]/d[0]*1.1, 1), roundN(0.26+0.06*z, 3),
			roundN(pact, 1), roundN(pact*0.92, 1), roundN(3.5-2*z, 1), roundN(pact*0.04, 1), roundN(ppen, 1),
			roundN(8*math.Exp(z), 1), roundN(math.Max(1, 6-8*z), 1), roundN(2.5-z, 1), roundN(math.Max(0.3, 2.4-4*z), 1),
			roundN(math.Max(0.3, 2.2-3*z), 1), roundN(-15-10*z, 1), "0",
		}
		o.w.WriteString(";" + strings.Join(vals, ";") + "\r\n")
	}
	o.entry.Rows = rows
	return o.close()
}
