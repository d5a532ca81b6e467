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

const banHeader = "id;id_fantoir;numero;rep;nom_voie;code_postal;code_insee;nom_commune;code_insee_ancienne_commune;nom_ancienne_commune;x;y;lon;lat;type_position;alias;nom_ld;libelle_acheminement;nom_afnor;source_position;source_nom_voie;certification_commune;cad_parcelles"

type address struct {
	street string
	num    int
	rep    string
	lon    float64
	lat    float64
	x, y   string
}

// writeAddresses writes adresses-<dep>.csv, one file per département, in the BAN
// schema: a few addresses per bureau, each inside a populated cell of the bureau
// (within 45 m of the cell centre, which every jittered cell contains). x/y are
// Lambert-93 computed from lon/lat with RGF93 taken equal to ETRS89 (a few
// centimetres off); overseas they are left empty rather than projected to the local
// UTM zone.
func (g *generator) writeAddresses(ctx context.Context) error {
	t := g.t
	cells := groupCells(t.bureauOf, len(t.bureaux))
	r := g.rng(sAddress)
	names := newNamer(g.rng(sAddress + 1000))
	byDept := map[string][]int{}
	for _, ci := range g.communeOrder() {
		d := t.communes[ci].dept
		byDept[d] = append(byDept[d], ci)
	}
	for _, d := range t.depts {
		if ctx.Err() != nil {
			return fmt.Errorf("generate: addresses: %w", ctx.Err())
		}
		o, err := g.create("adresses-"+d.code+".csv", "addresses", "ban-csv", "UTF-8")
		if err != nil {
			return err
		}
		o.entry.Departement = d.code
		o.w.WriteString(banHeader + "\n")
		rows := 0
		var units []int
		for _, ci := range byDept[d.code] {
			units = append(units, t.communes[ci].units...)
		}
		slices.SortFunc(units, func(a, b int) int { return cmp.Compare(t.units[a].code, t.units[b].code) })
		for _, ui := range units {
			u := &t.units[ui]
			cm := &t.communes[u.commune]
			streets := make([]string, max(3, 2*u.nBureaux))
			for k := range streets {
				streets[k] = names.street()
			}
			var addrs []address
			seen := map[string]bool{}
			for bi := u.firstB; bi < u.firstB+u.nBureaux; bi++ {
				var popCells []int32
				for _, c := range cells[bi] {
					if t.ind[c] > 0 {
						popCells = append(popCells, c)
					}
				}
				for range g.scale.addrPerBureau {
					c := int(popCells[r.IntN(len(popCells))])
					p, i, j := t.cellIJ(c)
					e := p.e0 + (float64(i)+0.5)*cellSize + (r.Float64()-0.5)*90
					n := p.n0 + (float64(j)+0.5)*cellSize + (r.Float64()-0.5)*90
					lon, lat := g.laea.Inverse(e, n)
					lon, lat = math.Round(lon*1e6)/1e6, math.Round(lat*1e6)/1e6
					a := address{street: streets[r.IntN(len(streets))], num: 1 + r.IntN(120), lon: lon, lat: lat}
					if r.Float64() < 0.05 {
						a.rep = "bis"
					}
					for seen[fmt.Sprint(a.street, a.num, a.rep)] {
						a.num++
					}
					seen[fmt.Sprint(a.street, a.num, a.rep)] = true
					if p.metro {
						x, y := g.l93.Forward(lon, lat)
						a.x, a.y = strconv.FormatFloat(math.Round(x*100)/100, 'f', 2, 64), strconv.FormatFloat(math.Round(y*100)/100, 'f', 2, 64)
					}
					addrs = append(addrs, a)
				}
			}
			slices.SortStableFunc(addrs, func(a, b address) int {
				return cmp.Or(cmp.Compare(a.street, b.street), cmp.Compare(a.num, b.num), cmp.Compare(a.rep, b.rep))
			})
			streetID := map[string]string{}
			for _, a := range addrs {
				sid, ok := streetID[a.street]
				if !ok {
					sid = strconv.FormatUint(g.hash(sAddress, uint64(ui), uint64(len(streetID)))%(36*36*36*36), 36)
					sid = strings.Repeat("0", 4-len(sid)) + sid
					streetID[a.street] = sid
				}
				num := strconv.Itoa(a.num)
				id := fmt.Sprintf("%s_%s_%05d", u.code, sid, a.num)
				if a.rep != "" {
					id += "_" + a.rep
				}
				libelle := upperPlain(cm.name)
				if cm.plm {
					libelle = fmt.Sprintf("PARIS %02d", u.arr)
				}
				postal := cm.postal
				if cm.plm {
					postal = fmt.Sprintf("750%02d", u.arr)
				}
				fields := []string{
					id, "", num, a.rep, a.street, postal, u.code, u.name, "", "", a.x, a.y,
					strconv.FormatFloat(a.lon, 'f', -1, 64), strconv.FormatFloat(a.lat, 'f', -1, 64),
					"entrée", "", "", libelle, upperPlain(a.street), "commune", "commune", "1",
					fmt.Sprintf("%s000A%c%04d", strings.NewReplacer("A", "0", "B", "0").Replace(u.code), 'A'+rune(a.num%26), a.num),
				}
				o.w.WriteString(strings.Join(fields, ";"))
				o.w.WriteString("\n")
				rows++
			}
		}
		o.entry.Rows = rows
		g.totals.Addresses += rows
		if err := o.close(); err != nil {
			return err
		}
	}
	return nil
}
