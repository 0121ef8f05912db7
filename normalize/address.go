package normalize

import (
	"iter"
	"regexp"
	"strings"
	"unicode/utf8"
)

// Address is a Chinese postal address split into its parts. Every part is text copied from the
// message; a part the message does not state is empty. Province and City are without their
// 省/市 suffix ("江苏", "苏州"); for the four municipalities both are the municipality's name.
// District, Street and Number keep their suffix ("工业园区", "星湖街", "328号"). Full is the whole
// address as written, including building and room (3栋201室).
type Address struct {
	Province string `json:"province"`
	City     string `json:"city"`
	District string `json:"district"`
	Street   string `json:"street"`
	Number   string `json:"number"`
	Full     string `json:"full"`
}

// A place name is Han characters, but not the function words that glue a sentence together:
// without this "苏州的工厂在园区" would read as city 苏州, district 的工厂在园区.
const placeRune = `[^\P{Han}的在是了有我你他她它们和与及把被说要请已还就都也很到从这那个吗呢吧啊哦嗯对给让再又就]`

const municipalities = `北京|上海|天津|重庆`

const provinces = `河北|山西|辽宁|吉林|黑龙江|江苏|浙江|安徽|福建|江西|山东|河南|湖北|湖南|广东|海南|四川|贵州|云南|陕西|甘肃|青海|台湾`

const autonomousRegions = `内蒙古|广西|西藏|宁夏|新疆`

// Cities recognised without a province or 市 before them. A city not listed here is still found
// after its province ("江苏省昆山市…" is not, since 昆山 is a county-level city: see District).
const knownCities = `石家庄|唐山|保定|太原|大同|沈阳|大连|鞍山|长春|哈尔滨|大庆|南京|苏州|无锡|常州|南通|徐州|扬州|镇江|泰州|盐城|连云港|淮安|宿迁|杭州|宁波|温州|嘉兴|湖州|绍兴|金华|台州|舟山|衢州|丽水|合肥|芜湖|福州|厦门|泉州|漳州|南昌|赣州|济南|青岛|烟台|潍坊|淄博|威海|临沂|济宁|郑州|洛阳|武汉|宜昌|襄阳|长沙|株洲|湘潭|广州|深圳|珠海|佛山|东莞|中山|惠州|江门|汕头|海口|三亚|成都|绵阳|贵阳|昆明|西安|兰州|西宁|呼和浩特|包头|南宁|柳州|桂林|拉萨|银川|乌鲁木齐`

// addressSuffixRunes end every district (区 县 市 旗) and street (路 街 巷 胡同 道).
const addressSuffixRunes = "区县市旗路街巷同道"

var (
	// addrStart are the names an address may begin with, by their first rune (the set of which
	// is addrStartFirsts): found by a scan of the text, not by a regexp of their alternation,
	// which cost half of a long hotline call's normalization.
	addrStart, addrStartFirsts = namesByFirstRune(municipalities + `|` + provinces + `|` + autonomousRegions + `|` + knownCities)
	addrCue                    = regexp.MustCompile(`(?:地址|厂址|位置|位于|住在|在)[是为:：]?\s*`)
	addrCueAnchored            = regexp.MustCompile(`^(?:` + addrCue.String() + `)`)
	addrMunicipality           = regexp.MustCompile(`^(` + municipalities + `)市?`)
	addrProvince               = regexp.MustCompile(`^(` + provinces + `)省?`)
	addrAutonomous             = regexp.MustCompile(`^(` + autonomousRegions + `)(?:壮族|回族|维吾尔)?(?:自治区)?`)
	addrKnownCity              = regexp.MustCompile(`^(` + knownCities + `)市?`)
	addrAnyCity                = regexp.MustCompile(`^(` + placeRune + `{2,4}?)(?:市|自治州|地区|盟)`)
	addrDistrict               = regexp.MustCompile(`^` + placeRune + `{1,7}?(?:新区|园区|开发区|区|县|市|旗)`)
	addrTown                   = regexp.MustCompile(`^` + placeRune + `{1,6}?(?:街道|镇|乡)`)
	addrTownSuffix             = regexp.MustCompile(`^(?:镇|乡|街道)`)
	addrStreet                 = regexp.MustCompile(`^` + placeRune + `{2,12}?(?:大道|大街|路|街|巷|胡同|道)`)
	addrNumber                 = regexp.MustCompile(`^[ \t]*(\d{1,5}(?:-\d{1,4})?)[ \t]*号`)
	addrBuilding               = regexp.MustCompile(`^(?:[ \t]*(?:[0-9A-Za-z]{1,6}|[一二三四五六七八九十]{1,3})(?:号楼|栋|幢|座|单元|楼|层|室))+`)
)

// ExtractAddress finds the first Chinese postal address in text: province (省, 自治区, or one of
// 北京/上海/天津/重庆), city (市), district (区/县/county-level 市), street (路/街/大道/巷) and
// number (号), with any building and room kept in Full. It reports false when nothing in text
// reads as an address: a street with a number, or a province or city with a district or street.
//
// It must never invent a part: a part not written is left empty, and a city is never inferred
// from a district or a street. An address that starts with neither a province, a listed city, a
// cue (地址：, 位于, 在…) nor the start of a line or clause is not found.
func ExtractAddress(text string) (Address, bool) {
	// Every address found has a district or a street, and so one of these characters: most
	// texts without one are rejected here, before any regular expression runs (this check
	// took address extraction from a fifth of the intake pipeline's CPU to almost nothing).
	if !strings.ContainsAny(text, addressSuffixRunes) {
		return Address{}, false
	}
	for start := range addressStarts(text) {
		// A street may be named after a city (中山路, 南京东路): read the start as a city first,
		// then as the beginning of a street.
		for _, withRegion := range []bool{true, false} {
			if a, ok := parseAddress(text, start, withRegion); ok {
				return a, true
			}
		}
	}
	return Address{}, false
}

// addrCueFirst are the runes addrCue's words begin with.
const addrCueFirst = "地厂位住在"

// namesByFirstRune indexes the names of an alternation a|b|c by their first rune, in order,
// and gives the set of those runes.
func namesByFirstRune(alternation string) (map[rune][]string, *runeSet) {
	m, firsts := map[rune][]string{}, &runeSet{}
	for _, name := range strings.Split(alternation, "|") {
		r, _ := utf8.DecodeRuneInString(name)
		m[r] = append(m[r], name)
		firsts.add(r)
	}
	return m, firsts
}

// addressStarts lists where an address may begin, the surest first: a province or listed city,
// then the end of a cue word, then the start of a line or clause. Trying a clause start first
// would read "我家星湖街328号" as the street 我家星湖街. The starts come one at a time, each
// list scanned only once the starts before it are all tried: a call's address is mostly found
// at its first start, and listing every start of a long call first was a tenth of its
// normalization.
func addressStarts(text string) iter.Seq[int] {
	return func(yield func(int) bool) {
		// Each scan moves left to right, so its starts come in order.
		for i := 0; i < len(text); {
			r, size := utf8.DecodeRuneInString(text[i:])
			if !addrStartFirsts.mayHave(r) {
				i += size
				continue
			}
			n := 0
			for _, name := range addrStart[r] {
				if strings.HasPrefix(text[i:], name) {
					n = len(name)
					break
				}
			}
			if n > 0 {
				if !yield(i) {
					return
				}
				i += n // as FindAll: matches do not overlap
				continue
			}
			i += size
		}
		// The cue, anchored, where one of its words begins: a search over a long text of
		// Chinese for a pattern without a literal start was most of this function's time.
		for i := 0; i < len(text); {
			r, size := utf8.DecodeRuneInString(text[i:])
			if strings.ContainsRune(addrCueFirst, r) {
				if loc := addrCueAnchored.FindStringIndex(text[i:]); loc != nil {
					if !yield(i + loc[1]) {
						return
					}
					i += max(loc[1], size)
					continue
				}
			}
			i += size
		}
		if !yield(0) {
			return
		}
		for i, r := range text {
			if r < utf8.RuneSelf && strings.IndexByte(" \t\n,:;!?)", byte(r)) >= 0 || r >= utf8.RuneSelf && strings.ContainsRune("，。：；、！？）", r) {
				if !yield(i + utf8.RuneLen(r)) {
					return
				}
			}
		}
	}
}

func parseAddress(text string, start int, withRegion bool) (Address, bool) {
	var a Address
	pos := start
	take := func(re *regexp.Regexp) (whole, group string) {
		loc := re.FindStringSubmatchIndex(text[pos:])
		if loc == nil {
			return "", ""
		}
		whole = text[pos+loc[0] : pos+loc[1]]
		group = whole
		if len(loc) >= 4 && loc[2] >= 0 {
			group = text[pos+loc[2] : pos+loc[3]]
		}
		pos += loc[1]
		return whole, group
	}
	if withRegion {
		if _, m := take(addrMunicipality); m != "" {
			a.Province, a.City = m, m
		} else if _, p := take(addrProvince); p != "" {
			a.Province = p
		} else if _, p := take(addrAutonomous); p != "" {
			a.Province = p
		}
		if a.City == "" {
			if _, c := take(addrKnownCity); c != "" {
				a.City = c
			} else if a.Province != "" {
				_, a.City = take(addrAnyCity)
			}
		}
	}
	// 柳市镇 is a town, not the county-level city 柳市 followed by 镇.
	if loc := addrDistrict.FindStringIndex(text[pos:]); loc != nil && !addrTownSuffix.MatchString(text[pos+loc[1]:]) {
		a.District = text[pos : pos+loc[1]]
		pos += loc[1]
	}
	take(addrTown) // 街道/镇/乡: part of Full, not a field of its own
	a.Street, _ = take(addrStreet)
	if a.Street != "" {
		if _, n := take(addrNumber); n != "" {
			a.Number = n + "号"
		}
	}
	if a.Number != "" {
		take(addrBuilding)
	}
	found := a.Street != "" && a.Number != "" ||
		(a.Province != "" || a.City != "") && (a.District != "" || a.Street != "")
	if !found {
		return Address{}, false
	}
	a.Full = strings.TrimSpace(text[start:pos])
	return a, true
}
