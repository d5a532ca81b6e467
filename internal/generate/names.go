package generate

import (
	"math/rand/v2"
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// namer makes French-looking names. Every character is in Windows-1252, so that the
// legacy results files can encode them, and many carry accents, so that encoding
// mistakes show.
type namer struct {
	r    *rand.Rand
	used map[string]bool // commune names already given
}

func newNamer(r *rand.Rand) *namer { return &namer{r: r, used: map[string]bool{}} }

func (n *namer) pick(list []string) string { return list[n.r.IntN(len(list))] }

var (
	communeStems = []string{
		"Villeneuve", "Montreuil", "Châtillon", "Bourg", "Fontaine", "Varennes", "Clamart", "Vélizy",
		"Écouen", "Étampes", "Limours", "Bièvres", "Orsay", "Palaiseau", "Verrières", "Jouy",
		"Saulx", "Mériel", "Chaville", "Sèvres", "Brévannes", "Créteil", "Thiais", "Rungis",
		"Noisy", "Gagny", "Livry", "Épinay", "Éragny", "Marly", "Crosne", "Yerres", "Brunoy",
		"Lésigny", "Ozoir", "Pontault", "Coubert", "Égly", "Arpajon", "Linas", "Montlhéry",
		"Nozay", "Champlan", "Wissous", "Fresnes", "Chevilly", "Orly", "Valenton", "Boissy",
	}
	communeSaints  = []string{"Saint-Rémy", "Saint-Maur", "Sainte-Geneviève", "Saint-Cloud", "Saint-Étienne", "Sainte-Hélène", "Saint-Aubin", "Saint-Germain", "Saint-Léger", "Saint-Benoît"}
	communeArticle = []string{"Le ", "La ", "Les ", "L'"}
	communeTails   = []string{
		"-sur-Orge", "-sur-Seine", "-sur-Marne", "-le-Roi", "-la-Forêt", "-le-Château", "-en-Brie",
		"-lès-Bains", "-sous-Bois", "-aux-Loges", "-des-Prés", "-en-Yvelines", "-le-Grand", "-le-Bocage",
	}
	quartierNames = []string{
		"Centre", "Centre-Ville", "Gare", "Les Tilleuls", "La Fontaine", "Le Bourg", "Les Érables",
		"Pasteur", "Jean Jaurès", "Les Coteaux", "Le Parc", "Les Prés", "La Cité", "Mairie",
		"Les Châtaigniers", "Hôtel de Ville", "Les Bruyères", "Plateau", "Zone d'Activités", "Val Fleuri",
		"Les Musiciens", "Les Hautes-Bornes", "La Croix-Blanche", "Vallée", "Église", "Champ de Foire",
	}
	surnames = []string{
		"MARTIN", "BERNARD", "DUBOIS", "THOMAS", "ROBERT", "RICHARD", "PETIT", "DURAND", "LEROY",
		"MOREAU", "SIMON", "LAURENT", "LEFÈVRE", "MICHEL", "GARCIA", "DAVID", "BERTRAND", "ROUX",
		"VINCENT", "FOURNIER", "MOREL", "GIRARD", "ANDRÉ", "LEFÈBVRE", "MERCIER", "DUPONT", "LAMBERT",
		"BONNET", "FRANÇOIS", "MARTINEZ", "LEGRAND", "GARNIER", "FAURE", "ROUSSEAU", "BLANC", "GUÉRIN",
		"MULLER", "HENRY", "ROUSSEL", "NICOLAS", "PERRIN", "MORIN", "MATHIEU", "CLÉMENT", "GAUTHIER",
		"DUMONT", "LOPEZ", "FONTAINE", "CHEVALIER", "ROBIN", "MASSON", "SANCHEZ", "GÉRARD", "NGUYEN",
		"BOYER", "DENIS", "LEMAIRE", "DUVAL", "JOLY", "GAUTIER", "ROGER", "ROCHE", "ROY", "NOËL",
		"MEYER", "LUCAS", "MEUNIER", "JEAN", "PÉREZ", "MARCHAND", "DUFOUR", "BLANCHARD", "MARIE",
		"BARBIER", "BRUN", "DUMAS", "BRUNET", "SCHMITT", "LEROUX", "COLIN", "FERNANDEZ", "PIERRE",
		"RENARD", "ARNAUD", "ROLLAND", "CARON", "AUBERT", "GIRAUD", "LECLERC", "VIDAL", "BOURGEOIS",
		"RENAUD", "LEMOINE", "PICARD", "GAILLARD", "PHILIPPE", "LECLERCQ", "LACROIX", "FABRE", "DUPUIS",
		"OLIVIER", "RODRIGUEZ", "DA SILVA", "HUBERT", "LOUIS", "CHARLES", "GUILLOT", "RIVIÈRE", "LE GALL",
		"GUILLAUME", "ADAM", "RÉMY", "MOULIN", "GONZALEZ", "AUBRY", "BENOÎT", "LE ROUX", "CŒUR",
	}
	firstM = []string{
		"Jean", "Pierre", "Michel", "André", "Philippe", "Frédéric", "Jérôme", "Stéphane", "Benoît",
		"Hervé", "Rémi", "Noël", "Joël", "Loïc", "Maël", "Gaël", "Thierry", "Éric", "Sébastien",
		"Cédric", "François", "Jean-Luc", "Jean-François", "Hugo", "Louis", "Théo", "Mathéo", "Yannick",
	}
	firstF = []string{
		"Marie", "Nathalie", "Isabelle", "Sylvie", "Catherine", "Hélène", "Cécile", "Agnès", "Zoé",
		"Léa", "Chloé", "Gaëlle", "Maëlle", "Anaïs", "Noémie", "Béatrice", "Valérie", "Élodie",
		"Françoise", "Marie-Josée", "Anne-Sophie", "Mélanie", "Émilie", "Inès", "Clémence", "Solène",
	}
	streetKinds = []string{"Rue", "Rue", "Rue", "Avenue", "Boulevard", "Place", "Allée", "Chemin", "Impasse", "Square"}
	streetNames = []string{
		"de la République", "Victor Hugo", "Jean Jaurès", "Pasteur", "du Général Leclerc", "des Écoles",
		"de l'Église", "du Moulin", "de la Gare", "Gambetta", "Jules Ferry", "du Château", "des Acacias",
		"Émile Zola", "de la Liberté", "Anatole France", "des Lilas", "du Maréchal Foch", "Voltaire",
		"de Verdun", "des Peupliers", "Paul Éluard", "Aristide Briand", "du 8 Mai 1945", "de Paris",
		"Édouard Herriot", "des Fauvettes", "de la Forêt", "Louise Michel", "Pierre Brossolette",
		"Marie Curie", "des Côtes", "de l'Hôtel de Ville", "Léon Blum", "des Prés", "Honoré de Balzac",
	}
)

// commune returns a commune name such as "Saint-Rémy-sur-Orge", avoiding names already
// given while it can.
func (n *namer) commune() string {
	var s string
	for range 20 {
		if s = n.communeName(); !n.used[s] {
			break
		}
	}
	n.used[s] = true
	return s
}

func (n *namer) communeName() string {
	switch x := n.r.Float64(); {
	case x < 0.2:
		return n.pick(communeSaints) + n.pick(communeTails)
	case x < 0.3:
		a := n.pick(communeArticle)
		stem := n.pick(communeStems)
		if a == "L'" && !startsWithVowel(stem) {
			a = "Le "
		}
		if a != "L'" && startsWithVowel(stem) {
			a = "L'"
		}
		return a + stem
	case x < 0.6:
		return n.pick(communeStems) + n.pick(communeTails)
	}
	return n.pick(communeStems)
}

func (n *namer) quartier() string { return n.pick(quartierNames) }

func (n *namer) surname() string { return n.pick(surnames) }

func (n *namer) firstName(female bool) string {
	if female {
		return n.pick(firstF)
	}
	return n.pick(firstM)
}

func (n *namer) street() string { return n.pick(streetKinds) + " " + n.pick(streetNames) }

func startsWithVowel(s string) bool {
	b := stripAccents(s)
	return b != "" && strings.ContainsRune("AEIOUYaeiouy", rune(b[0]))
}

// stripAccents removes diacritics: "Étampes" → "Etampes", "Œ" → "OE".
func stripAccents(s string) string {
	s = strings.NewReplacer("Œ", "OE", "œ", "oe", "Æ", "AE", "æ", "ae").Replace(s)
	var b strings.Builder
	for _, r := range norm.NFD.String(s) {
		if unicode.Is(unicode.Mn, r) {
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// upperPlain returns the INSEE "NCC" spelling: upper case, no accent, hyphens and
// apostrophes as spaces.
func upperPlain(s string) string {
	s = strings.ToUpper(stripAccents(s))
	return strings.NewReplacer("-", " ", "'", " ").Replace(s)
}
