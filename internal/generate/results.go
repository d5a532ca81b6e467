package generate

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/transform"
)

// candidate is a name on a ballot. The affinities say how its share moves with the
// bureau's profile (z-scores of income, share of people aged 65+, share aged 18–39,
// density), so that crosstabs of results and census show a signal.
type candidate struct {
	board          int
	sex            string // M or F
	nom, prenom    string
	nuance         string
	share          float64 // expected national share, %
	inc, old, yng  float64
	urb, candNoise float64
}

// blocAffinity returns the affinities of a nuance.
func blocAffinity(nuance string) (inc, old, yng, urb float64) {
	switch nuance {
	case "EXG", "DXG":
		return -0.25, -0.1, 0.1, 0
	case "FI", "NUP", "UG":
		return -0.35, -0.4, 0.35, 0.35
	case "COM":
		return -0.35, 0, 0, 0.1
	case "SOC", "DVG", "RDG":
		return 0.1, 0.1, 0, 0.2
	case "ECO", "VEC":
		return 0.15, -0.2, 0.3, 0.45
	case "ENS", "REM", "MDM", "HOR", "DVC", "UDI":
		return 0.4, 0.35, -0.05, 0.1
	case "LR", "DVD":
		return 0.45, 0.45, -0.2, -0.1
	case "RN", "FN", "UXD", "EXD", "DSV", "DXD":
		return -0.5, 0, -0.05, -0.5
	case "REC":
		return 0.15, 0.15, -0.1, 0
	case "DLF":
		return -0.1, 0.1, -0.1, -0.3
	}
	return 0, 0, 0, -0.3
}

func farRight(n string) bool { return n == "RN" || n == "FN" || n == "UXD" || n == "EXD" }

func newCandidate(board int, sex, nom, prenom, nuance string, share float64) candidate {
	c := candidate{board: board, sex: sex, nom: nom, prenom: prenom, nuance: nuance, share: share}
	c.inc, c.old, c.yng, c.urb = blocAffinity(nuance)
	return c
}

func pres2022() []candidate {
	rows := []struct {
		sex, nom, prenom, nuance string
		share                    float64
	}{
		{"F", "ARTHAUD", "Nathalie", "EXG", 0.56}, {"M", "ROUSSEL", "Fabien", "COM", 2.28},
		{"M", "MACRON", "Emmanuel", "ENS", 27.85}, {"M", "LASSALLE", "Jean", "DIV", 3.13},
		{"F", "LE PEN", "Marine", "RN", 23.15}, {"M", "ZEMMOUR", "Éric", "REC", 7.07},
		{"M", "MÉLENCHON", "Jean-Luc", "FI", 21.95}, {"F", "HIDALGO", "Anne", "SOC", 1.75},
		{"M", "JADOT", "Yannick", "ECO", 4.63}, {"F", "PÉCRESSE", "Valérie", "LR", 4.78},
		{"M", "POUTOU", "Philippe", "EXG", 0.77}, {"M", "DUPONT-AIGNAN", "Nicolas", "DLF", 2.06},
	}
	var cs []candidate
	for k, r := range rows {
		cs = append(cs, newCandidate(k+1, r.sex, r.nom, r.prenom, r.nuance, r.share))
	}
	return cs
}

// pres2027 draws a fictional presidential ballot.
func (g *generator) pres2027() []candidate {
	r := g.rng(sCandidates + 2027)
	nm := newNamer(r)
	nuances := []struct {
		n     string
		share float64
	}{{"RN", 33}, {"ENS", 21}, {"FI", 14}, {"LR", 9}, {"SOC", 7}, {"ECO", 5}, {"REC", 4}, {"COM", 3}, {"EXG", 1.5}, {"DIV", 2.5}}
	perm := r.Perm(len(nuances))
	var cs []candidate
	for k, pi := range perm {
		fem := r.IntN(2) == 0
		sex := "M"
		if fem {
			sex = "F"
		}
		cs = append(cs, newCandidate(k+1, sex, nm.surname(), nm.firstName(fem), nuances[pi].n, nuances[pi].share))
	}
	return cs
}

// legislativeBallot draws the round-1 candidates of one constituency.
func (g *generator) legislativeBallot(year int, nm *namer) []candidate {
	r := nm.r
	type nu struct {
		n     string
		share float64
		p     float64
	}
	var list []nu
	if year == 2022 {
		list = []nu{{"NUP", 26, 1}, {"ENS", 26, 1}, {"RN", 19, 1}, {"LR", 11, 0.9}, {"REC", 4.3, 0.95}, {"DXG", 1.2, 0.8},
			{"DVG", 3.7, 0.35}, {"ECO", 2.7, 0.3}, {"DVD", 2.3, 0.35}, {"DSV", 1.1, 0.3}, {"DVC", 1.4, 0.2}, {"UDI", 0.7, 0.1},
			{"DIV", 0.9, 0.5}, {"RDG", 0.3, 0.1}, {"DXD", 0.3, 0.1}}
	} else {
		list = []nu{{"UG", 28, 1}, {"ENS", 20, 0.9}, {"RN", 29.3, 0.9}, {"LR", 6.6, 0.6}, {"REC", 0.8, 0.5}, {"EXG", 1.1, 0.9},
			{"DVG", 1.5, 0.25}, {"DVD", 3.6, 0.3}, {"DVC", 1.2, 0.2}, {"ECO", 0.6, 0.3}, {"DSV", 0.3, 0.2}, {"DIV", 0.4, 0.4},
			{"HOR", 0.6, 0.08}, {"UXD", 3.9, 0.1}, {"UDI", 0.25, 0.05}, {"REG", 0.4, 0.03}}
	}
	var chosen []nu
	for _, x := range list {
		if r.Float64() < x.p {
			chosen = append(chosen, x)
		}
	}
	if len(chosen) < 2 {
		chosen = list[:3]
	}
	perm := r.Perm(len(chosen))
	var cs []candidate
	for k, pi := range perm {
		fem := r.IntN(5) < 2
		sex := "M"
		if fem {
			sex = "F"
		}
		c := newCandidate(k+1, sex, nm.surname(), nm.firstName(fem), chosen[pi].n, chosen[pi].share)
		c.candNoise = 0.25 * r.NormFloat64()
		cs = append(cs, c)
	}
	return cs
}

// features are a bureau's standardised profile.
type features struct{ inc, old, yng, urb float64 }

// bureauFeatures standardises income, age and density over the bureaux.
func (g *generator) bureauFeatures() []features {
	t := g.t
	raw := make([][4]float64, len(t.bureaux))
	for k, b := range t.bureaux {
		a := b.agg
		ind := math.Max(1, float64(a.ind)/10)
		raw[k] = [4]float64{
			math.Log(math.Max(1, a.snv) / ind),
			float64(a.age[a65_79]+a.age[a80p]) / math.Max(1, float64(a.ind)),
			float64(a.age[a18_24]+a.age[a25_39]) / math.Max(1, float64(a.ind)),
			math.Log1p(ind / float64(max(1, a.popCells))),
		}
	}
	var mean, sd [4]float64
	for _, r := range raw {
		for k := range r {
			mean[k] += r[k] / float64(len(raw))
		}
	}
	for _, r := range raw {
		for k := range r {
			sd[k] += (r[k] - mean[k]) * (r[k] - mean[k]) / float64(len(raw))
		}
	}
	out := make([]features, len(raw))
	for i, r := range raw {
		var z [4]float64
		for k := range r {
			if sd[k] > 0 {
				z[k] = (r[k] - mean[k]) / math.Sqrt(sd[k])
			}
		}
		out[i] = features{z[0], z[1], z[2], z[3]}
	}
	return out
}

// resultRow is one bureau of one results file.
type resultRow struct {
	bureau                          int // index in territory.bureaux; the parent for a new bureau
	key, code                       string
	inscrits, votants, blancs, nuls int
	exprimes                        int
	cands                           []int // indices into the constituency's (or national) ballot
	voix                            []int
}

// election is one results file being built.
type election struct {
	id      string
	round   int
	ballots map[int][]candidate // per constituency id (0 for a national ballot)
	rows    []resultRow
}

// circoID identifies a constituency across départements.
func (g *generator) circoID(b int) int {
	t := g.t
	u := &t.units[t.bureaux[b].unit]
	d := slices.IndexFunc(t.depts, func(x deptInfo) bool { return x.code == t.communes[u.commune].dept })
	return d*100 + u.circo
}

// inscritsBase is ≈ 0.7 × the population of each bureau.
func (g *generator) inscritsBase() []int {
	t := g.t
	out := make([]int, len(t.bureaux))
	for k, b := range t.bureaux {
		out[k] = max(5, int(math.Round(0.7*float64(b.agg.ind)/10*(1+0.03*g.norm(sInscrits, uint64(k), 0)))))
	}
	return out
}

// newBureau is the bureau created after the contours were frozen, present in the 2024
// and later results only: a split of the largest bureau of an ordinary commune.
func (g *generator) newBureau(base []int) (parent int, key, code string) {
	t := g.t
	parent = -1
	for k, b := range t.bureaux {
		if t.units[b.unit].arr == 0 && t.units[b.unit].nBureaux > 1 && (parent < 0 || base[k] > base[parent]) {
			parent = k
		}
	}
	if parent < 0 {
		return -1, "", ""
	}
	u := &t.units[t.bureaux[parent].unit]
	code = fmt.Sprintf("%04d", u.nBureaux+1)
	return parent, t.communes[u.commune].code + "_" + code, code
}

// clamp bounds a z-score: a few extreme bureaux must not take all the votes.
func clamp(z float64) float64 { return math.Max(-2.5, math.Min(2.5, z)) }

// vote fills a row's counts: turnout and candidate shares follow the bureau profile.
func (g *generator) vote(row *resultRow, f features, ballot []candidate, cands []int, salt uint64, turnout, blank, null float64, weights []float64) {
	n := func(k uint64) float64 { return g.norm(sVote, uint64(row.bureau)*131+salt, k) }
	lt := math.Log(turnout/(1-turnout)) + 0.3*clamp(f.inc) + 0.25*clamp(f.old) - 0.12*clamp(f.yng) - 0.08*clamp(f.urb) + 0.12*n(0)
	p := 1 / (1 + math.Exp(-lt))
	row.votants = int(math.Round(float64(row.inscrits) * p))
	row.blancs = int(math.Round(float64(row.votants) * blank * math.Exp(0.3*n(1))))
	row.nuls = int(math.Round(float64(row.votants) * null * math.Exp(0.3*n(2))))
	row.exprimes = max(0, row.votants-row.blancs-row.nuls)
	row.blancs = min(row.blancs, row.votants)
	row.nuls = row.votants - row.blancs - row.exprimes
	sc := make([]float64, len(cands))
	for k, ci := range cands {
		c := ballot[ci]
		base := math.Log(c.share)
		aff := 0.7
		if weights != nil {
			// Round 2: half the log of the round-1 strength, half the bureau profile,
			// or one finalist would take every vote where it led.
			base, aff = 0.5*math.Log(weights[k]), 0.5
		}
		prof := c.inc*clamp(f.inc) + c.old*clamp(f.old) + c.yng*clamp(f.yng) + c.urb*clamp(f.urb)
		sc[k] = math.Exp(base + aff*prof + c.candNoise + 0.12*n(uint64(10+ci)))
	}
	row.cands = cands
	row.voix = make([]int, len(cands))
	parts := split(int64(row.exprimes), 1, sc)
	for k := range parts {
		row.voix[k] = int(parts[k])
	}
}

// writeResults builds and writes the eight results files.
func (g *generator) writeResults(ctx context.Context) error {
	t := g.t
	feats := g.bureauFeatures()
	base := g.inscritsBase()
	order := g.bureauOrder()
	parent, newKey, newCode := g.newBureau(base)

	// rowsFor lists the bureaux of a file in key order, with its registered voters.
	rowsFor := func(drift float64, salt uint64, withNew bool, prev []resultRow) []resultRow {
		var rows []resultRow
		for _, b := range order {
			ins := int(math.Round(float64(base[b]) * drift))
			rows = append(rows, resultRow{bureau: b, key: t.bureaux[b].key, code: t.bureaux[b].code, inscrits: ins})
		}
		if withNew && parent >= 0 {
			moved := rows[slices.IndexFunc(rows, func(r resultRow) bool { return r.bureau == parent })].inscrits * 2 / 5
			for k := range rows {
				if rows[k].bureau == parent {
					rows[k].inscrits -= moved
				}
			}
			rows = append(rows, resultRow{bureau: parent, key: newKey, code: newCode, inscrits: moved})
			slices.SortFunc(rows, func(a, b resultRow) int { return cmp.Compare(a.key, b.key) })
		}
		for k := range rows {
			if prev != nil {
				rows[k].inscrits = prev[k].inscrits
			}
			// Registers move a little between rounds and elections.
			if g.unif(sInscrits, uint64(k), salt) < 0.2 {
				rows[k].inscrits = max(1, rows[k].inscrits+int(g.unif(sInscrits, uint64(k), salt+1)*7)-3)
			}
		}
		return rows
	}
	national := func(e *election, ballot []candidate, turnout, blank, null float64, weights []float64, salt uint64) {
		e.ballots = map[int][]candidate{0: ballot}
		cands := make([]int, len(ballot))
		for k := range cands {
			cands[k] = k
		}
		for k := range e.rows {
			g.vote(&e.rows[k], feats[e.rows[k].bureau], ballot, cands, salt, turnout, blank, null, weights)
		}
	}

	var files []*election
	// Presidential 2022.
	p1 := &election{id: "pres2022", round: 1, rows: rowsFor(1, 1, false, nil)}
	national(p1, pres2022(), 0.74, 0.011, 0.005, nil, 1)
	p2 := &election{id: "pres2022", round: 2, rows: rowsFor(1, 2, false, p1.rows)}
	duel := []candidate{pres2022()[2], pres2022()[4]}
	duel[0].board, duel[1].board = 1, 2
	national(p2, duel, 0.72, 0.046, 0.016, []float64{55, 45}, 2)
	files = append(files, p1, p2)

	// Legislative 2022 and 2024: one ballot per constituency, the best two (three in
	// 2024 when the third has 12.5 % of the registered) go to round 2.
	for _, leg := range []struct {
		year    int
		drift   float64
		withNew bool
		t1, t2  float64
	}{{2022, 1.002, false, 0.475, 0.46}, {2024, 1.012, true, 0.667, 0.667}} {
		id := fmt.Sprintf("lg%d", leg.year)
		salt := uint64(leg.year) * 10
		e1 := &election{id: id, round: 1, rows: rowsFor(leg.drift, salt+1, leg.withNew, nil), ballots: map[int][]candidate{}}
		nm := newNamer(g.rng(sCandidates + uint64(leg.year)))
		var circos []int
		for _, b := range order {
			if id := g.circoID(b); !slices.Contains(circos, id) {
				circos = append(circos, id)
			}
		}
		slices.Sort(circos)
		for _, c := range circos {
			e1.ballots[c] = g.legislativeBallot(leg.year, nm)
		}
		for k := range e1.rows {
			r := &e1.rows[k]
			ballot := e1.ballots[g.circoID(r.bureau)]
			cands := make([]int, len(ballot))
			for i := range cands {
				cands[i] = i
			}
			g.vote(r, feats[r.bureau], ballot, cands, salt+1, leg.t1, 0.015, 0.006, nil)
		}
		// Round-1 totals per constituency choose the finalists.
		type tot struct {
			voix []int
			ins  int
		}
		tots := map[int]*tot{}
		for _, r := range e1.rows {
			c := g.circoID(r.bureau)
			if tots[c] == nil {
				tots[c] = &tot{voix: make([]int, len(e1.ballots[c]))}
			}
			for k, v := range r.voix {
				tots[c].voix[r.cands[k]] += v
			}
			tots[c].ins += r.inscrits
		}
		finalists := map[int][]int{}
		weights := map[int][]float64{}
		for _, c := range circos {
			tt := tots[c]
			idx := make([]int, len(tt.voix))
			for i := range idx {
				idx[i] = i
			}
			slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(tt.voix[b], tt.voix[a]) })
			n := 2
			if leg.year == 2024 && len(idx) > 2 && float64(tt.voix[idx[2]]) >= 0.125*float64(tt.ins) {
				n = 3
			}
			fin := slices.Clone(idx[:min(n, len(idx))])
			// Candidates keep their round-1 board numbers; blocks follow board order.
			slices.SortFunc(fin, func(a, b int) int { return cmp.Compare(e1.ballots[c][a].board, e1.ballots[c][b].board) })
			finalists[c] = fin
			var w []float64
			hasFR := slices.ContainsFunc(fin, func(i int) bool { return farRight(e1.ballots[c][i].nuance) })
			for _, i := range fin {
				x := float64(tt.voix[i]) + 1
				if hasFR && !farRight(e1.ballots[c][i].nuance) {
					x *= 1.6 // the "front républicain"
				}
				w = append(w, x)
			}
			weights[c] = w
		}
		e2 := &election{id: id, round: 2, rows: rowsFor(leg.drift, salt+2, leg.withNew, e1.rows), ballots: e1.ballots}
		for k := range e2.rows {
			r := &e2.rows[k]
			c := g.circoID(r.bureau)
			g.vote(r, feats[r.bureau], e1.ballots[c], finalists[c], salt+2, leg.t2, 0.045, 0.015, weights[c])
		}
		files = append(files, e1, e2)
	}

	// Presidential 2027, in the 2024 numbered-block layout.
	q1 := &election{id: "pres2027", round: 1, rows: rowsFor(1.025, 2027, true, nil)}
	ballot := g.pres2027()
	national(q1, ballot, 0.76, 0.012, 0.005, nil, 2027)
	tot := make([]int, len(ballot))
	for _, r := range q1.rows {
		for k, v := range r.voix {
			tot[r.cands[k]] += v
		}
	}
	idx := make([]int, len(ballot))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(tot[b], tot[a]) })
	fin := []int{idx[0], idx[1]}
	slices.SortFunc(fin, func(a, b int) int { return cmp.Compare(ballot[a].board, ballot[b].board) })
	q2 := &election{id: "pres2027", round: 2, rows: rowsFor(1.025, 2028, true, q1.rows), ballots: map[int][]candidate{0: ballot}}
	for k := range q2.rows {
		w := []float64{float64(tot[fin[0]]), float64(tot[fin[1]])}
		g.vote(&q2.rows[k], feats[q2.rows[k].bureau], ballot, fin, 2028, 0.73, 0.04, 0.014, w)
	}
	files = append(files, q1, q2)

	names := map[string]string{
		"pres2022/1": "PR22_BVot_T1_FE.txt", "pres2022/2": "PR22_BVot_T2_FE.txt",
		"lg2022/1": "LG22_BVot_T1_FE.txt", "lg2022/2": "LG22_BVot_T2_FE.txt",
		"lg2024/1": "resultats-definitifs-par-bureau-de-vote-lg2024-t1.csv", "lg2024/2": "resultats-definitifs-par-bureau-de-vote-lg2024-t2.csv",
		"pres2027/1": "resultats-pres2027-t1.csv", "pres2027/2": "resultats-pres2027-t2.csv",
	}
	for _, e := range files {
		if ctx.Err() != nil {
			return fmt.Errorf("generate: results: %w", ctx.Err())
		}
		name := names[fmt.Sprintf("%s/%d", e.id, e.round)]
		var err error
		if strings.HasSuffix(name, ".txt") {
			err = g.writeLegacy(name, e)
		} else {
			err = g.write2024(name, e)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// miDept returns the Ministry's département code and 3-digit commune number of a
// legacy file: ZA/ZD letters overseas, as before 2024.
func miDept(commune, dept string) (string, string) {
	switch dept {
	case "971":
		return "ZA", commune[2:]
	case "974":
		return "ZD", commune[2:]
	}
	return dept, commune[2:]
}

// pct formats a rate like the Ministry files: two decimals, decimal comma.
func pct(num, den int, suffix string) string {
	v := 0.0
	if den > 0 {
		v = 100 * float64(num) / float64(den)
	}
	return strings.Replace(strconv.FormatFloat(v, 'f', 2, 64), ".", ",", 1) + suffix
}

func (g *generator) finishResults(o *output, e *election, rows int) {
	o.entry.Election, o.entry.Round, o.entry.Rows = e.id, e.round, rows
	var without []string
	for _, r := range e.rows {
		o.entry.Inscrits += int64(r.inscrits)
		o.entry.Votants += int64(r.votants)
		o.entry.Exprimes += int64(r.exprimes)
		if r.key != g.t.bureaux[r.bureau].key {
			without = append(without, r.key)
		}
	}
	o.entry.WithoutContour = without
}

const legacyFixed = "Code du département;Libellé du département;Code de la circonscription;Libellé de la circonscription;Code de la commune;Libellé de la commune;Code du b.vote;Inscrits;Abstentions;% Abs/Ins;Votants;% Vot/Ins;Blancs;% Blancs/Ins;% Blancs/Vot;Nuls;% Nuls/Ins;% Nuls/Vot;Exprimés;% Exp/Ins;% Exp/Vot;N°Panneau;Sexe;Nom;Prénom"

// writeLegacy writes a 2017–2022 Ministry file: Windows-1252, CRLF, ';', the header
// naming the first candidate block only, and rows as long as their ballot.
func (g *generator) writeLegacy(name string, e *election) error {
	t := g.t
	o, err := g.create(name, "results", "mi-legacy-wide", "Windows-1252")
	if err != nil {
		return err
	}
	legislative := strings.HasPrefix(e.id, "lg")
	enc := transform.NewWriter(o.w, charmap.Windows1252.NewEncoder())
	var sb strings.Builder
	if legislative {
		sb.WriteString(legacyFixed + ";Nuance;Voix;% Voix/Ins;% Voix/Exp\r\n")
	} else {
		sb.WriteString(legacyFixed + ";Voix;% Voix/Ins;% Voix/Exp\r\n")
	}
	if _, err := enc.Write([]byte(sb.String())); err != nil {
		o.close()
		return fmt.Errorf("generate: %s: %w", name, err)
	}
	for _, r := range e.rows {
		sb.Reset()
		u := &t.units[t.bureaux[r.bureau].unit]
		cm := &t.communes[u.commune]
		d, c := miDept(cm.code, cm.dept)
		abst := r.inscrits - r.votants
		fields := []string{d, g.deptName(cm.dept), fmt.Sprintf("%02d", u.circo), ordinal(u.circo) + " circonscription", c, cm.name, r.code,
			strconv.Itoa(r.inscrits), strconv.Itoa(abst), pct(abst, r.inscrits, ""), strconv.Itoa(r.votants), pct(r.votants, r.inscrits, ""),
			strconv.Itoa(r.blancs), pct(r.blancs, r.inscrits, ""), pct(r.blancs, r.votants, ""),
			strconv.Itoa(r.nuls), pct(r.nuls, r.inscrits, ""), pct(r.nuls, r.votants, ""),
			strconv.Itoa(r.exprimes), pct(r.exprimes, r.inscrits, ""), pct(r.exprimes, r.votants, "")}
		ballot := e.ballots[0]
		if legislative {
			ballot = e.ballots[g.circoID(r.bureau)]
		}
		for k, ci := range r.cands {
			cd := ballot[ci]
			board := cd.board
			fields = append(fields, strconv.Itoa(board), cd.sex, cd.nom, cd.prenom)
			if legislative {
				fields = append(fields, cd.nuance)
			}
			fields = append(fields, strconv.Itoa(r.voix[k]), pct(r.voix[k], r.inscrits, ""), pct(r.voix[k], r.exprimes, ""))
		}
		sb.WriteString(strings.Join(fields, ";"))
		sb.WriteString("\r\n")
		if _, err := enc.Write([]byte(sb.String())); err != nil {
			o.close()
			return fmt.Errorf("generate: %s: %w", name, err)
		}
	}
	if err := enc.Close(); err != nil {
		o.close()
		return fmt.Errorf("generate: %s: %w", name, err)
	}
	g.finishResults(o, e, len(e.rows))
	return o.close()
}

// quote2024 quotes a field the way some official 2024 copies do: when it holds a
// space, a hyphen or a percent sign.
func quote2024(s string) string {
	if strings.ContainsAny(s, " -%\"") {
		return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
	}
	return s
}

// write2024 writes the 2024 numbered-block layout: UTF-8, ';', 19 fixed fields, blocks
// of 9 numbered from 1, every row padded to the header's width.
func (g *generator) write2024(name string, e *election) error {
	t := g.t
	o, err := g.create(name, "results", "mi-2024-numbered-blocks", "UTF-8")
	if err != nil {
		return err
	}
	nblocks := 0
	for _, r := range e.rows {
		nblocks = max(nblocks, len(r.cands))
	}
	if e.round == 1 && strings.HasPrefix(e.id, "lg") {
		nblocks = 19 // the national round-1 file has 19 blocks
	} else if strings.HasPrefix(e.id, "lg") {
		nblocks = 4
	}
	header := strings.Split("Code département;Libellé département;Code commune;Libellé commune;Code BV;Inscrits;Votants;% Votants;Abstentions;% Abstentions;Exprimés;% Exprimés/inscrits;% Exprimés/votants;Blancs;% Blancs/inscrits;% Blancs/votants;Nuls;% Nuls/inscrits;% Nuls/votants", ";")
	for k := 1; k <= nblocks; k++ {
		for _, f := range []string{"Numéro de panneau", "Nuance candidat", "Nom candidat", "Prénom candidat", "Sexe candidat", "Voix", "% Voix/inscrits", "% Voix/exprimés", "Elu"} {
			header = append(header, fmt.Sprintf("%s %d", f, k))
		}
	}
	width := len(header)
	write := func(fields []string) {
		for k, f := range fields {
			if k > 0 {
				o.w.WriteByte(';')
			}
			o.w.WriteString(quote2024(f))
		}
		o.w.WriteByte('\n')
	}
	write(header)
	// Winners: most votes over the constituency in round 2.
	winners := map[int]int{}
	if e.round == 2 {
		sums := map[[2]int]int{}
		for _, r := range e.rows {
			c := 0
			if strings.HasPrefix(e.id, "lg") {
				c = g.circoID(r.bureau)
			}
			for k, v := range r.voix {
				sums[[2]int{c, r.cands[k]}] += v
			}
		}
		for _, r := range e.rows {
			c := 0
			if strings.HasPrefix(e.id, "lg") {
				c = g.circoID(r.bureau)
			}
			if _, ok := winners[c]; ok {
				continue
			}
			best := r.cands[0]
			for _, ci := range r.cands {
				if sums[[2]int{c, ci}] > sums[[2]int{c, best}] {
					best = ci
				}
			}
			winners[c] = best
		}
	}
	fields := make([]string, 0, width)
	for _, r := range e.rows {
		u := &t.units[t.bureaux[r.bureau].unit]
		cm := &t.communes[u.commune]
		abst := r.inscrits - r.votants
		fields = append(fields[:0], cm.dept, g.deptName(cm.dept), cm.code, cm.name, r.code,
			strconv.Itoa(r.inscrits), strconv.Itoa(r.votants), pct(r.votants, r.inscrits, "%"), strconv.Itoa(abst), pct(abst, r.inscrits, "%"),
			strconv.Itoa(r.exprimes), pct(r.exprimes, r.inscrits, "%"), pct(r.exprimes, r.votants, "%"),
			strconv.Itoa(r.blancs), pct(r.blancs, r.inscrits, "%"), pct(r.blancs, r.votants, "%"),
			strconv.Itoa(r.nuls), pct(r.nuls, r.inscrits, "%"), pct(r.nuls, r.votants, "%"))
		c := 0
		if strings.HasPrefix(e.id, "lg") {
			c = g.circoID(r.bureau)
		}
		ballot := e.ballots[c]
		for k, ci := range r.cands {
			cd := ballot[ci]
			sex := "MASCULIN"
			if cd.sex == "F" {
				sex = "FEMININ"
			}
			elu := ""
			if w, ok := winners[c]; ok && w == ci {
				elu = "élu"
			}
			fields = append(fields, strconv.Itoa(cd.board), cd.nuance, cd.nom, cd.prenom, sex, strconv.Itoa(r.voix[k]),
				pct(r.voix[k], r.inscrits, "%"), pct(r.voix[k], r.exprimes, "%"), elu)
		}
		for len(fields) < width {
			fields = append(fields, "")
		}
		write(fields)
	}
	g.finishResults(o, e, len(e.rows))
	return o.close()
}
