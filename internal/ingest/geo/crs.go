package geo

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// WGS84 is the SRID of longitude/latitude coordinates, the GeoJSON default and the
// storage CRS of every geometry in coopol.
const WGS84 = 4326

// maxSRID is PostGIS's largest user SRID.
const maxSRID = 998999

// ParseCRS reads a GeoJSON 2008 `crs` member: {"type":"name","properties":{"name":…}},
// or the older {"type":"EPSG","properties":{"code":…}}. A null member means no CRS (0).
// Linked CRS definitions are refused: nothing here fetches or parses WKT.
func ParseCRS(raw []byte) (int, error) {
	var c struct {
		Type       string `json:"type"`
		Properties struct {
			Name string          `json:"name"`
			Code json.RawMessage `json:"code"`
		} `json:"properties"`
	}
	if strings.TrimSpace(string(raw)) == "null" {
		return 0, nil
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return 0, fmt.Errorf("crs member is not a GeoJSON CRS object: %v", err)
	}
	switch strings.ToLower(c.Type) {
	case "name":
		return ParseCRSName(c.Properties.Name)
	case "epsg":
		code := strings.Trim(string(c.Properties.Code), `" `)
		return ParseCRSName("EPSG:" + code)
	}
	return 0, fmt.Errorf("unsupported crs type %q (want a named CRS such as urn:ogc:def:crs:EPSG::2154)", c.Type)
}

// ParseCRSName returns the SRID (EPSG code) named by a CRS identifier as GDAL, QGIS and
// OGC services write them: urn:ogc:def:crs:OGC:1.3:CRS84, OGC:CRS84, urn:ogc:def:crs:EPSG::2154,
// urn:ogc:def:crs:EPSG:6.6:2154, EPSG:2154, http://www.opengis.net/def/crs/EPSG/0/2154.
// EPSG:4326 is read as longitude/latitude like CRS84: that is what GeoJSON writers put
// in the file whatever the axis order the EPSG register defines.
func ParseCRSName(name string) (int, error) {
	n := strings.ToUpper(strings.TrimSpace(name))
	switch {
	case n == "":
		return 0, fmt.Errorf("empty CRS name")
	case strings.HasSuffix(n, "CRS84") && (n == "CRS84" || strings.HasPrefix(n, "OGC:") ||
		strings.HasPrefix(n, "URN:OGC:DEF:CRS:OGC:") || strings.HasPrefix(n, "HTTP://WWW.OPENGIS.NET/DEF/CRS/OGC/")):
		return WGS84, nil
	case strings.HasSuffix(n, "CRS83"): // NAD83 lon/lat
		return 4269, nil
	case strings.HasSuffix(n, "CRS27"): // NAD27 lon/lat
		return 4267, nil
	}
	var code string
	for _, p := range []string{
		"URN:OGC:DEF:CRS:EPSG:", "URN:X-OGC:DEF:CRS:EPSG:", "HTTP://WWW.OPENGIS.NET/DEF/CRS/EPSG/",
		"HTTPS://WWW.OPENGIS.NET/DEF/CRS/EPSG/", "HTTP://WWW.OPENGIS.NET/GML/SRS/EPSG.XML#", "EPSG:",
	} {
		if rest, ok := strings.CutPrefix(n, p); ok {
			// The code is the last field; a version may sit before it (EPSG:6.6:2154, EPSG/0/2154).
			code = rest[strings.LastIndexAny(rest, ":/")+1:]
			break
		}
	}
	if code == "" {
		return 0, fmt.Errorf("unknown CRS %q (want CRS84 or an EPSG code)", name)
	}
	srid, err := strconv.Atoi(code)
	if err != nil || srid <= 0 || srid > maxSRID {
		return 0, fmt.Errorf("unknown CRS %q: %q is not an EPSG code", name, code)
	}
	return srid, nil
}
