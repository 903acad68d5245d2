package accesslevel

import "strings"

// ValidRegion reports whether code is an officially assigned ISO 3166-1
// alpha-2 code, written in upper case as ACM's Condition.regions requires
// ("Must be valid ISO 3166-1 alpha-2 codes").
func ValidRegion(code string) bool {
	_, ok := assignedRegions[code]
	return ok
}

// assignedRegionCodes are the 249 officially assigned ISO 3166-1 alpha-2
// codes, copied from Debian's iso-codes 4.15.0
// (/usr/share/iso-codes/json/iso_3166-1.json), which follows the ISO 3166
// Maintenance Agency's list. Reserved and user-assigned codes (XK, EU, UK,
// ZZ, ...) are left out.
const assignedRegionCodes = "" +
	"AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE " +
	"BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ CA CC CD " +
	"CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM " +
	"DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF " +
	"GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU " +
	"ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN " +
	"KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME " +
	"MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA " +
	"NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM " +
	"PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI " +
	"SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK " +
	"TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI " +
	"VN VU WF WS YE YT ZA ZM ZW"

var assignedRegions = func() map[string]struct{} {
	codes := strings.Fields(assignedRegionCodes)
	m := make(map[string]struct{}, len(codes))
	for _, c := range codes {
		m[c] = struct{}{}
	}
	return m
}()
