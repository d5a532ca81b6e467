package tiles

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"testing"

	"github.com/paulmach/orb"
)

// fakeBuildStore records what a build asks of the store.
type fakeBuildStore struct {
	current  map[string]string
	built    map[string]map[string]string
	faces    int // BaseFaces calls
	replaced []BuiltLayer
}

func (s *fakeBuildStore) TileBuildState(context.Context) (map[string]string, map[string]map[string]string, error) {
	return s.current, s.built, nil
}

func (s *fakeBuildStore) BaseFaces(context.Context, func(Face) error) error { s.faces++; return nil }
func (s *fakeBuildStore) IrisFaces(context.Context, func(Face) error) error { return nil }
func (s *fakeBuildStore) ReplaceTileLayers(_ context.Context, ls []BuiltLayer) error {
	s.replaced = append(s.replaced, ls...)
	return nil
}

func (s *fakeBuildStore) ReplaceTileCells(context.Context, map[string]string, func(orb.MultiPolygon) ([]byte, orb.Bound)) (int64, error) {
	return 0, nil
}

// sourcesNow are every layer's sources for the current versions.
func sourcesNow(current map[string]string) map[string]map[string]string {
	out := map[string]map[string]string{}
	for name, ls := range layerSources {
		src := map[string]string{"bands": fmt.Sprint(mustLayer(name).Bands), "format": geomFormat}
		for _, k := range append(slices.Clone(ls.geometry), ls.attributes...) {
			src[k] = current[k]
		}
		out[name] = src
	}
	return out
}

// New results refresh the base layers' attributes without reading faces, unless the
// circonscriptions of the bureaux changed with them.
func TestBuilder_Build_refresh(t *testing.T) {
	current := map[string]string{"kind:contours": "1.1", "kind:iris": "2.1", "kind:communes": "3.1",
		"kind:results": "4.1", "kind:census": "5.1", "kind:grid": "6.1", CircoSource: "a"}
	for _, tc := range []struct {
		name             string
		change           map[string]string
		refreshed        []string
		rebuiltBase      bool
		skippedUnchanged bool
	}{
		{name: "nothing", skippedUnchanged: true},
		{name: "results", change: map[string]string{"kind:results": "7.2"},
			refreshed: []string{"bureaux", "circonscriptions", "communes", "departements"}},
		{name: "circonscriptions", change: map[string]string{"kind:results": "7.2", CircoSource: "b"}, rebuiltBase: true},
		{name: "contours", change: map[string]string{"kind:contours": "8.1"}, rebuiltBase: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := &fakeBuildStore{current: maps.Clone(current), built: sourcesNow(current)}
			maps.Copy(st.current, tc.change)
			rep, err := (&Builder{Store: st}).Build(context.Background(), false)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(rep.Refreshed, tc.refreshed) {
				t.Errorf("refreshed %v, want %v", rep.Refreshed, tc.refreshed)
			}
			if (st.faces > 0) != tc.rebuiltBase {
				t.Errorf("base faces read %d times, want a rebuild: %v", st.faces, tc.rebuiltBase)
			}
			if tc.skippedUnchanged && len(rep.Skipped) != len(layerSources) {
				t.Errorf("skipped %v, want every layer", rep.Skipped)
			}
			want := sourcesNow(st.current)
			for _, l := range st.replaced {
				if l.Refresh != slices.Contains(tc.refreshed, l.Name) {
					t.Errorf("layer %s: refresh %v", l.Name, l.Refresh)
				}
				if !maps.Equal(l.Sources, want[l.Name]) {
					t.Errorf("layer %s: sources %v, want %v", l.Name, l.Sources, want[l.Name])
				}
			}
		})
	}
}
