package wxshot

import (
	"fmt"
	"html"
	"math/rand/v2"
	"path"
	"strings"
)

// The icons are drawn in SVG after WeChat's: thin strokes in the icon colour for the bars,
// colour blocks for cards.

func backIcon(c string) string {
	return fmt.Sprintf(`<svg class="back" width="14" height="24" viewBox="0 0 14 24"><path d="M12 2 L2 12 L12 22" fill="none" stroke="%s" stroke-width="2.2" stroke-linecap="round" stroke-linejoin="round"/></svg>`, c)
}

func moreIcon(c string) string {
	return fmt.Sprintf(`<svg class="more" width="22" height="6" viewBox="0 0 22 6"><circle cx="3" cy="3" r="2.3" fill="%[1]s"/><circle cx="11" cy="3" r="2.3" fill="%[1]s"/><circle cx="19" cy="3" r="2.3" fill="%[1]s"/></svg>`, c)
}

// voiceIcon is the input bar's round voice button.
func voiceIcon(c string, size int) string {
	return fmt.Sprintf(`<svg width="%[2]d" height="%[2]d" viewBox="0 0 28 28" style="flex:none"><circle cx="14" cy="14" r="12.5" fill="none" stroke="%[1]s" stroke-width="1.6"/>%[3]s</svg>`, c, size, wavePaths(c, 10, 14, false))
}

func emojiIcon(c string) string {
	return fmt.Sprintf(`<svg width="28" height="28" viewBox="0 0 28 28" style="flex:none"><circle cx="14" cy="14" r="12.5" fill="none" stroke="%[1]s" stroke-width="1.6"/><circle cx="10" cy="11.5" r="1.5" fill="%[1]s"/><circle cx="18" cy="11.5" r="1.5" fill="%[1]s"/><path d="M8.5 16.5 Q14 22 19.5 16.5" fill="none" stroke="%[1]s" stroke-width="1.6" stroke-linecap="round"/></svg>`, c)
}

func plusIcon(c string) string {
	return fmt.Sprintf(`<svg width="28" height="28" viewBox="0 0 28 28" style="flex:none"><circle cx="14" cy="14" r="12.5" fill="none" stroke="%[1]s" stroke-width="1.6"/><path d="M14 8 V20 M8 14 H20" stroke="%[1]s" stroke-width="1.6" stroke-linecap="round"/></svg>`, c)
}

// wavePaths are the voice wave: a dot and two arcs opening to the right (or left).
func wavePaths(c string, x, y float64, left bool) string {
	dir := 1.0
	if left {
		dir = -1
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<circle cx="%g" cy="%g" r="1.6" fill="%s"/>`, x, y, c)
	for _, r := range []float64{4.5, 8} {
		fmt.Fprintf(&b, `<path d="M%g %g A%g %g 0 0 %d %g %g" fill="none" stroke="%s" stroke-width="1.7" stroke-linecap="round"/>`,
			x+dir*r*0.55, y-r*0.8, r, r, map[bool]int{false: 1, true: 0}[left], x+dir*r*0.55, y+r*0.8, c)
	}
	return b.String()
}

// voiceWave is the wave inside a voice bubble, pointing away from the sender's avatar.
func voiceWave(c string, right bool) string {
	return fmt.Sprintf(`<svg width="20" height="22" viewBox="0 0 20 22" style="flex:none">%s</svg>`, wavePaths(c, map[bool]float64{false: 4, true: 16}[right], 11, right))
}

// sticker is a cartoon: a round face, a cat, a heart or a thumbs-up, in one of a few moods,
// sometimes with words under it in a bold outlined font, as stickers have.
func sticker(r *rand.Rand, words string) string {
	fill := pick(r, []string{"#FFCC33", "#FFB347", "#F7D774", "#FFFFFF", "#F4A7B9", "#9AD0F5"})
	var art string
	switch r.IntN(4) {
	case 0, 1:
		mouth := pick(r, []string{"M40 78 Q60 96 80 78", "M42 84 Q60 74 78 84", "M45 80 H75", "M40 76 Q60 100 80 76 Z"})
		var ears, blush string
		if r.IntN(2) == 0 {
			ears = fmt.Sprintf(`<path d="M22 40 L28 8 L50 26 Z M98 40 L92 8 L70 26 Z" fill="%s" stroke="#333" stroke-width="3"/>`, fill)
		}
		if r.IntN(2) == 0 {
			blush = `<ellipse cx="34" cy="72" rx="8" ry="5" fill="#FF8A8A" opacity=".6"/><ellipse cx="86" cy="72" rx="8" ry="5" fill="#FF8A8A" opacity=".6"/>`
		}
		art = fmt.Sprintf(`%s<circle cx="60" cy="64" r="48" fill="%s" stroke="#333" stroke-width="3"/>%s<ellipse cx="44" cy="56" rx="5" ry="%d" fill="#333"/><ellipse cx="76" cy="56" rx="5" ry="%d" fill="#333"/><path d="%s" fill="none" stroke="#333" stroke-width="4" stroke-linecap="round"/>`,
			ears, fill, blush, 4+r.IntN(5), 4+r.IntN(5), mouth)
	case 2:
		art = fmt.Sprintf(`<path d="M60 104 C20 76 8 52 20 32 C32 14 54 18 60 34 C66 18 88 14 100 32 C112 52 100 76 60 104 Z" fill="%s" stroke="#333" stroke-width="3"/>`, pick(r, []string{"#F25C5C", "#FF7AA2", "#E8453C"}))
	default:
		art = fmt.Sprintf(`<path d="M30 108 V58 H44 L58 20 C64 12 74 16 72 28 L68 48 H98 C106 48 110 56 106 64 L96 100 C94 106 90 108 84 108 Z" fill="%s" stroke="#333" stroke-width="3" stroke-linejoin="round"/><rect x="14" y="56" width="16" height="52" rx="3" fill="%s" stroke="#333" stroke-width="3"/>`, fill, fill)
	}
	if words != "" {
		art = fmt.Sprintf(`<g transform="translate(0 -8) scale(.86) translate(10 0)">%s</g><text x="60" y="114" font-size="22" font-weight="900" text-anchor="middle" fill="%s" stroke="#333" stroke-width="1.2" paint-order="stroke">%s</text>`,
			art, pick(r, []string{"#FFFFFF", "#FFD23F", "#FF6B6B"}), html.EscapeString(words))
	}
	return `<svg width="120" height="120" viewBox="0 0 120 120">` + art + `</svg>`
}

// fileIcon is a file type's block: red PDF, blue Word, green Excel, yellow archive.
func fileIcon(name string) string {
	color, label := "#8A8A8A", "FILE"
	switch strings.ToLower(path.Ext(name)) {
	case ".pdf":
		color, label = "#E0533C", "PDF"
	case ".doc", ".docx":
		color, label = "#3E7BD8", "W"
	case ".xls", ".xlsx":
		color, label = "#22A05B", "X"
	case ".zip", ".rar":
		color, label = "#E8A534", "ZIP"
	}
	return fmt.Sprintf(`<svg width="40" height="46" viewBox="0 0 40 46" style="flex:none"><path d="M0 3 A3 3 0 0 1 3 0 H28 L40 12 V43 A3 3 0 0 1 37 46 H3 A3 3 0 0 1 0 43 Z" fill="%s"/><path d="M28 0 V12 H40" fill="rgba(255,255,255,.35)"/><text x="20" y="33" font-size="%d" font-family="sans-serif" font-weight="700" fill="#fff" text-anchor="middle">%s</text></svg>`,
		color, map[bool]int{true: 16, false: 11}[len(label) == 1], label)
}

func redPacketIcon() string {
	return `<svg width="32" height="40" viewBox="0 0 32 40" style="flex:none"><rect x="1" y="1" width="30" height="38" rx="3" fill="#F25542"/><path d="M1 12 Q16 20 31 12" fill="none" stroke="#D93D2D" stroke-width="2"/><circle cx="16" cy="16" r="6" fill="#F8C45C"/></svg>`
}

func transferIcon() string {
	return `<svg width="38" height="38" viewBox="0 0 38 38" style="flex:none"><circle cx="19" cy="19" r="17" fill="none" stroke="#fff" stroke-width="2"/><path d="M11 15 H27 L22 10 M27 23 H11 L16 28" fill="none" stroke="#fff" stroke-width="2" stroke-linecap="round" stroke-linejoin="round"/></svg>`
}
