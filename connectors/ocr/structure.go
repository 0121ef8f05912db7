package ocr

import (
	"image"
	"slices"
	"sort"
)

// The structure of a chat screenshot is found from its pixels before anything is read: the
// page's colour, the chrome above and below the chat (status and title bar, input bar,
// keyboard), the avatars, the message bodies (bubbles, cards, pictures) and the lines of
// text drawn on the page (names, time separators, system notices, quotes). Only then is
// each region read, each in the way that suits it, and nothing of an avatar is ever read as
// text nor any text masked as avatar.
//
// Sizes are in dp, WeChat's own unit: an avatar is 40 dp square on Android and iOS alike, so
// when the picture shows avatars they give the scale, and otherwise a phone's width is taken
// as some 360 dp.

// scene is what a screenshot shows, before any of it is read.
type scene struct {
	// busy is set for a picture with more marks than a chat screenshot has (noise, a
	// pattern, a drawing): it is not read (errTooBusy), finding its lines would cost time and
	// memory out of all proportion.
	busy bool
	W, H int
	page rgb
	dark bool
	dp   float64 // pixels per dp
	// chat is the part of the picture the conversation scrolls in.
	chat image.Rectangle
	// title is the title bar's text; empty when the picture does not show it.
	title image.Rectangle
	// avatars are the avatar squares; leftX and rightX the columns they stand in (-1: none).
	avatars       []image.Rectangle
	leftX, rightX int
	bodies        []body
	// lines are runs of text on the page, outside any body: names, separators, notices,
	// quotes. Top to bottom.
	lines []pageLine
}

// body is a message's visible body: a bubble, a card or a picture.
type body struct {
	box    image.Rectangle
	colour rgb     // its commonest colour: the bubble's or card's
	flat   float64 // the share of its pixels of that colour: a bubble's is high, a photo's low
	// icon is a block of colour inside a flat body, in its right part (a file's icon, a
	// link's thumbnail); empty when there is none.
	icon image.Rectangle
	// tail is the side its tail points to (left, right), "" when it has none: a bubble's
	// tail points at its sender's avatar; a picture has none.
	tail string
	// fill is the share of its box it covers: a bubble or card is a rectangle (with its
	// tail: some 0.95), a round sticker less.
	fill float64
	// cut: the picture's edge or the chrome cuts the body.
	cut bool
}

// bubble reports a body of one of the colours WeChat draws bubbles and cards in — white or
// grey, green, orange — filling most of it, with a tail or rectangular: not a picture or a
// sticker (a yellow face is flat too, and round).
func (b body) bubble() bool {
	if b.colour.green() || b.colour.orange() {
		// JPEG spreads these colours widest; no photo is that flat in them.
		return b.flat >= 0.5 && (b.tail != "" || b.fill >= 0.8)
	}
	return b.flat >= 0.8 && b.colour.chroma() < 30 && (b.tail != "" || b.fill >= 0.85)
}

// pageLine is a line of text drawn on the page.
type pageLine struct {
	box image.Rectangle
	// ink is the strongest contrast of its strokes with the page, 0–255: the title and
	// message text are near black (or white), names and notices grey.
	ink int
	// pill: the line is written on a flat pill of its own (some system notices).
	pill bool
}

// onPage reports a colour that is the page's: within a few levels of its brightness (white
// bubbles on #EDEDED differ by 18) and not far from its hue. JPEG's noise on flat areas is a
// few levels; its chroma, subsampled, rings further around colours (a pink halo of 12 levels
// under a green bubble) but keeps the brightness.
func onPage(c, page rgb) bool {
	dl := int(c.luma()) - int(page.luma())
	return dl >= -8 && dl <= 8 && c.near(page, 24)
}

// findScene finds the structure of a screenshot.
func findScene(img *image.RGBA) scene {
	W, H := img.Rect.Dx(), img.Rect.Dy()
	s := scene{W: W, H: H, page: pageColour(img), leftX: -1, rightX: -1}
	s.dark = s.page.luma() < 100
	s.dp = float64(W) / 360
	s.chat = image.Rect(0, 0, W, H)
	chromeRows(img, &s)
	blobs := components(img, s.page, s.chat)
	if blobs == nil || len(blobs) > maxBlobs {
		s.busy = true
		return s
	}
	blobs = mergeContained(blobs, s.dp)

	// What runs from edge to edge is chrome (a rule under the title bar, over the input bar,
	// a keyboard): nothing of a conversation touches both edges.
	var rest []blob
	for _, b := range blobs {
		if b.box.Min.X <= W/100 && b.box.Max.X >= W-W/100 {
			if b.box.Max.Y <= H/3 {
				s.chat.Min.Y = max(s.chat.Min.Y, b.box.Max.Y)
			} else if b.box.Min.Y >= H*2/3 {
				s.chat.Max.Y = min(s.chat.Max.Y, b.box.Min.Y)
			}
			continue
		}
		rest = append(rest, b)
	}
	var kept, above []blob
	for _, b := range rest {
		switch {
		case b.box.Max.Y <= s.chat.Min.Y+2:
			above = append(above, b) // the title bar's, over its rule
		case b.box.Overlaps(s.chat):
			kept = append(kept, b)
		}
	}
	s.findAvatars(img, kept)

	var glyphs []blob
	for _, b := range kept {
		switch {
		case s.isAvatar(b.box):
		case s.isRule(b.box):
		case s.isBody(img, b):
			s.bodies = append(s.bodies, s.describeBody(img, b))
		default:
			glyphs = append(glyphs, b)
		}
	}
	if len(glyphs) > maxGlyphs || len(above) > maxGlyphs {
		s.busy = true
		return s
	}
	s.lines = s.textLines(img, glyphs)
	s.findTitle(s.textLines(img, above))
	s.pictures()
	for i := range s.bodies {
		s.bodies[i].cut = s.cutOff(img, s.bodies[i])
	}
	sort.SliceStable(s.bodies, func(i, j int) bool { return s.bodies[i].box.Min.Y < s.bodies[j].box.Min.Y })
	return s
}

// pageColour is the chat's background: the colour of the first rows that are one colour from
// edge to edge, four or more in a row (a gap between messages, the title bar's, which WeChat
// draws in the page's colour). The commonest colour is not it: in a narrow crop white bubbles
// cover more than the page, and an open keyboard below the chat has more such rows.
func pageColour(img *image.RGBA) rgb {
	W, H := img.Rect.Dx(), img.Rect.Dy()
	step := max(1, W/64)
	uniform := func(y int) (rgb, bool) {
		first := colourAt(img, 0, y)
		for x := step; x < W; x += step {
			if !colourAt(img, x, y).near(first, 4) {
				return first, false
			}
		}
		return first, true
	}
	run := 0
	var runColour rgb
	for y := 0; y < H*2/3; y++ {
		c, ok := uniform(y)
		switch {
		case !ok:
			run = 0
		case run > 0 && c.near(runColour, 4):
			run++
		default:
			run, runColour = 1, c
		}
		if run == 4 {
			return runColour
		}
	}
	return commonPixel(img)
}

// commonPixel is the commonest colour of the picture's middle rows.
func commonPixel(img *image.RGBA) rgb {
	W, H := img.Rect.Dx(), img.Rect.Dy()
	count := map[rgb]int{}
	exact := map[rgb]rgb{}
	for y := H / 8; y < H*7/8; y += 5 {
		for x := 0; x < W; x += 5 {
			c := colourAt(img, x, y)
			q := rgb{c.r &^ 3, c.g &^ 3, c.b &^ 3}
			count[q]++
			if _, ok := exact[q]; !ok {
				exact[q] = c
			}
		}
	}
	var best rgb
	n := -1
	for c, k := range count {
		if k > n || (k == n && c.r > best.r) {
			best, n = c, k
		}
	}
	return exact[best]
}

// chromeRows narrows the chat to the rows between the bars at the top and the bottom whose
// colour is not the page's, seen at both edges of the picture (a status bar of its own
// colour, the input bar, a keyboard).
func chromeRows(img *image.RGBA, s *scene) {
	W, H := img.Rect.Dx(), img.Rect.Dy()
	edge := max(1, W/100)
	// One of the four may be page-like: a keyboard's key reaches in from the edge.
	isChrome := func(y int) bool {
		n := 0
		for _, x := range []int{0, edge, W - 1 - edge, W - 1} {
			if colourAt(img, x, y).near(s.page, 3) {
				n++
			}
		}
		return n <= 1
	}
	// A row of the page's colour or two (a key's antialiased edge) does not end the chrome.
	y, top := H-1, H
	for miss := 0; y > H/2 && miss < 3; y-- {
		if isChrome(y) {
			top, miss = y, 0
		} else {
			miss++
		}
	}
	s.chat.Max.Y = top
	y, bottom := 0, 0
	for miss := 0; y < H/4 && miss < 3; y++ {
		if isChrome(y) {
			bottom, miss = y+1, 0
		} else {
			miss++
		}
	}
	s.chat.Min.Y = bottom
}

// blob is a connected run of pixels not of the page's colour.
type blob struct {
	box  image.Rectangle
	area int
}

// What a chat screenshot has at the most: runs of non-page pixels, blobs, and strokes on the
// page (names, separators, notices: a few thousand). None of wxshot's 240 screenshots nor
// ocrtest's comes near them; beyond them a picture is noise or a drawing, not a chat.
const (
	maxBlobs  = 50_000
	maxGlyphs = 8_000
)

// maxRuns bounds the runs of a picture of area pixels.
func maxRuns(area int) int { return max(400_000, area/16) }

// errTooBusy refuses a picture with more marks than a chat screenshot has.
var errTooBusy = &ImageError{"the picture has more separate marks than a chat screenshot has (noise, a pattern or a drawing); it is not read"}

// components finds the blobs of non-page pixels in r (8-connected), by runs and a union-find
// over them; nil when r has more runs than a chat screenshot (maxRuns).
func components(img *image.RGBA, page rgb, r image.Rectangle) []blob {
	limit := maxRuns(r.Dx() * r.Dy())
	type run struct{ x0, x1 int32 }
	var runs []run
	var rowOf []int32
	rowStart := make([]int, r.Dy()+1)
	for y := r.Min.Y; y < r.Max.Y; y++ {
		if len(runs) > limit {
			return nil
		}
		rowStart[y-r.Min.Y] = len(runs)
		p := img.Pix[y*img.Stride:]
		in := false
		var x0 int
		for x := r.Min.X; x < r.Max.X; x++ {
			o := 4 * x
			far := !onPage(rgb{p[o], p[o+1], p[o+2]}, page)
			if far && !in {
				in, x0 = true, x
			} else if !far && in {
				in = false
				runs = append(runs, run{int32(x0), int32(x)})
				rowOf = append(rowOf, int32(y))
			}
		}
		if in {
			runs = append(runs, run{int32(x0), int32(r.Max.X)})
			rowOf = append(rowOf, int32(y))
		}
	}
	rowStart[r.Dy()] = len(runs)
	parent := make([]int32, len(runs))
	for i := range parent {
		parent[i] = int32(i)
	}
	var find func(int32) int32
	find = func(i int32) int32 {
		for parent[i] != i {
			parent[i] = parent[parent[i]]
			i = parent[i]
		}
		return i
	}
	for row := 1; row < r.Dy(); row++ {
		prev, cur := rowStart[row-1], rowStart[row]
		end := rowStart[row+1]
		j := prev
		for i := cur; i < end; i++ {
			a := runs[i]
			for j < cur && runs[j].x1 < a.x0 {
				j++
			}
			for k := j; k < cur && runs[k].x0 <= a.x1; k++ {
				ri, rk := find(int32(i)), find(int32(k))
				if ri != rk {
					parent[max(ri, rk)] = min(ri, rk)
				}
			}
		}
	}
	index := map[int32]int{}
	var out []blob
	for i, a := range runs {
		root := find(int32(i))
		k, ok := index[root]
		box := image.Rect(int(a.x0), int(rowOf[i]), int(a.x1), int(rowOf[i])+1)
		if !ok {
			index[root] = len(out)
			out = append(out, blob{box: box, area: int(a.x1 - a.x0)})
			continue
		}
		out[k].box = out[k].box.Union(box)
		out[k].area += int(a.x1 - a.x0)
	}
	return out
}

// mergeContained folds each blob lying within a bigger one's box into it: the islands of a
// photo's colours that are the page's, the strokes of a dark text on a green bubble in dark
// mode (the page's own colour).
func mergeContained(blobs []blob, dp float64) []blob {
	big := []int{}
	for i, b := range blobs {
		if float64(b.box.Dx()) >= 16*dp && float64(b.box.Dy()) >= 16*dp {
			big = append(big, i)
		}
	}
	sort.Slice(big, func(i, j int) bool { return blobs[big[i]].area > blobs[big[j]].area })
	gone := make([]bool, len(blobs))
	for _, i := range big {
		if gone[i] {
			continue
		}
		outer := blobs[i].box.Inset(-1)
		for j := range blobs {
			if j == i || gone[j] || !blobs[j].box.In(outer) {
				continue
			}
			blobs[i].area += blobs[j].area
			gone[j] = true
		}
	}
	var out []blob
	for i, b := range blobs {
		if !gone[i] && b.area >= 3 {
			out = append(out, b)
		}
	}
	return out
}

// findAvatars finds the avatar squares: square blocks near the left or right edge, standing
// in a column (the same x and size) or, alone, with a message's body or name beside them.
// Their size then gives the picture's scale (an avatar is 40 dp).
func (s *scene) findAvatars(img *image.RGBA, blobs []blob) {
	type cand struct {
		box  image.Rectangle
		left bool
		size int // its side: the width, or the height of one the crop cuts at the side
	}
	var cands []cand
	for _, b := range blobs {
		w, h := b.box.Dx(), b.box.Dy()
		if float64(b.area) < 0.6*float64(w*h) {
			continue
		}
		cutY := b.box.Min.Y <= s.chat.Min.Y+1 || b.box.Max.Y >= s.chat.Max.Y-1 // scrolled half out
		cutX := b.box.Min.X == 0 || b.box.Max.X == s.W                         // the crop cut the column
		size := w
		switch {
		case cutX && cutY:
			continue
		case cutX:
			size = h
			if w > h*11/10 {
				continue
			}
		case cutY:
			if 5*w < 4*h {
				continue
			}
		default:
			if 5*h < 4*w || 5*w < 4*h {
				continue
			}
		}
		if float64(size) < 28*s.dp || float64(size) > 60*s.dp {
			continue
		}
		switch {
		case b.box.Min.X < s.W*9/100:
			cands = append(cands, cand{b.box, true, size})
		case b.box.Max.X > s.W*91/100:
			cands = append(cands, cand{b.box, false, size})
		}
	}
	var sizes []int
	for _, left := range []bool{true, false} {
		var xs, ss []int
		for _, c := range cands {
			if c.left == left {
				x := c.box.Min.X
				if !left {
					x = c.box.Max.X
				}
				xs = append(xs, x)
				ss = append(ss, c.size)
			}
		}
		if len(xs) == 0 {
			continue
		}
		x, size := median(xs), median(ss)
		var column []image.Rectangle
		for _, c := range cands {
			cx := c.box.Min.X
			if !c.left {
				cx = c.box.Max.X
			}
			if c.left == left && abs(cx-x) <= max(4, size/12) && abs(c.size-size) <= max(4, size/8) {
				column = append(column, c.box)
				sizes = append(sizes, c.size)
			}
		}
		if len(column) == 1 && !s.somethingBeside(column[0], left, blobs) {
			sizes = sizes[:len(sizes)-1]
			continue
		}
		s.avatars = append(s.avatars, column...)
		if left {
			s.leftX = x
		} else {
			s.rightX = x
		}
	}
	if len(sizes) > 0 {
		s.dp = float64(median(sizes)) / 40
	}
}

// somethingBeside reports a blob beside an avatar candidate, towards the middle, level with
// its upper half: an avatar always has its message next to it.
func (s *scene) somethingBeside(a image.Rectangle, left bool, blobs []blob) bool {
	for _, b := range blobs {
		if b.box == a || b.box.Max.Y < a.Min.Y || b.box.Min.Y > (a.Min.Y+a.Max.Y)/2 {
			continue
		}
		if left && b.box.Min.X >= a.Max.X && b.box.Min.X-a.Max.X < a.Dx()/2 ||
			!left && b.box.Max.X <= a.Min.X && a.Min.X-b.box.Max.X < a.Dx()/2 {
			return true
		}
	}
	return false
}

func (s *scene) isAvatar(b image.Rectangle) bool {
	return slices.Contains(s.avatars, b)
}

// isRule is a thin horizontal line: the rules around "以下是新消息", a bar's edge.
func (s *scene) isRule(b image.Rectangle) bool {
	return float64(b.Dy()) <= max(2, 1.5*s.dp) && float64(b.Dx()) >= 30*s.dp
}

// isBody tells a message's body from a stroke of text on the page: a body is at least as tall
// as a bubble of one line (some 36 dp) or wide and flat inside (a pill, a short card).
func (s *scene) isBody(img *image.RGBA, b blob) bool {
	h := float64(b.box.Dy())
	if h >= 30*s.dp && float64(b.box.Dx()) >= 14*s.dp {
		return true
	}
	// A short flat block: a pill under a notice. Strokes of text are never flat that far.
	return h >= 14*s.dp && float64(b.box.Dx()) >= 30*s.dp && flatShare(img, b.box.Inset(int(3*s.dp))) > 0.6
}

// describeBody measures a body: its colour and how much of it is that colour, and the icon
// block a card has.
func (s *scene) describeBody(img *image.RGBA, bl blob) body {
	box := bl.box
	b := body{box: box, fill: float64(bl.area) / float64(box.Dx()*box.Dy())}
	// Its colour is the one of its padding, above and below its text: a bubble of two
	// characters is mostly strokes inside.
	in, out := int(2*s.dp), int(5*s.dp)
	x0, x1 := box.Min.X+int(10*s.dp), box.Max.X-int(10*s.dp)
	if x1-x0 < 4 || box.Dy() < 2*out+4 {
		b.colour, b.flat = commonColour(img, box)
	} else {
		b.colour, b.flat = commonColour(img, image.Rect(x0, box.Min.Y+in, x1, box.Min.Y+out), image.Rect(x0, box.Max.Y-out, x1, box.Max.Y-in))
	}
	if b.flat >= 0.5 {
		b.tail = s.tailOf(img, box)
	}
	if b.bubble() {
		b.icon = s.iconOf(img, b)
	}
	return b
}

// tailOf finds a bubble's tail: a small triangle out of one side, near its top. There the
// body's outermost columns are mostly page, while a few dp in they are all bubble.
func (s *scene) tailOf(img *image.RGBA, box image.Rectangle) string {
	filled := func(x int) float64 {
		n := 0
		for y := box.Min.Y; y < box.Max.Y; y++ {
			if !onPage(colourAt(img, x, y), s.page) {
				n++
			}
		}
		return float64(n) / float64(box.Dy())
	}
	in := int(10 * s.dp)
	if box.Dx() <= 2*in+2 {
		return ""
	}
	l, r := filled(box.Min.X+1), filled(box.Max.X-2)
	switch {
	case l < 0.5 && r > 0.5 && l < r-0.2 && filled(box.Min.X+in) > 0.8:
		return left
	case r < 0.5 && l > 0.5 && r < l-0.2 && filled(box.Max.X-1-in) > 0.8:
		return right
	}
	return ""
}

// iconOf finds the block in the right part of a flat card (a file's icon, a link's thumbnail):
// squares of 20 dp mostly (60 %) unlike the card's colour, 30 dp or more together. Text is strokes, which cover far
// less of any square; a thumbnail may be as grey as text, so colour does not tell.
func (s *scene) iconOf(img *image.RGBA, b body) image.Rectangle {
	r := b.box.Inset(int(4 * s.dp))
	r.Min.X = b.box.Min.X + b.box.Dx()*11/20
	side := int(20 * s.dp)
	if r.Dx() < side || r.Dy() < side {
		return image.Rectangle{}
	}
	// An integral image of the pixels unlike the card.
	w, h := r.Dx(), r.Dy()
	sum := make([]int32, (w+1)*(h+1))
	for y := 0; y < h; y++ {
		var row int32
		for x := 0; x < w; x++ {
			if !colourAt(img, r.Min.X+x, r.Min.Y+y).near(b.colour, 24) {
				row++
			}
			sum[(y+1)*(w+1)+x+1] = sum[y*(w+1)+x+1] + row
		}
	}
	count := func(x0, y0, x1, y1 int) int32 {
		return sum[y1*(w+1)+x1] - sum[y0*(w+1)+x1] - sum[y1*(w+1)+x0] + sum[y0*(w+1)+x0]
	}
	var box image.Rectangle
	step := max(1, side/4)
	for y := 0; y+side <= h; y += step {
		for x := 0; x+side <= w; x += step {
			if 10*count(x, y, x+side, y+side) >= int32(6*side*side) {
				box = box.Union(image.Rect(x, y, x+side, y+side))
			}
		}
	}
	// An icon or thumbnail is some 40 dp or more; a dense character or two fill a square too.
	if float64(box.Dx()) < 30*s.dp || float64(box.Dy()) < 30*s.dp {
		return image.Rectangle{}
	}
	return box.Add(r.Min)
}

// textLines groups the strokes on the page into lines: strokes that overlap in height and
// lie within a character or so of each other.
func (s *scene) textLines(img *image.RGBA, glyphs []blob) []pageLine {
	sort.Slice(glyphs, func(i, j int) bool { return glyphs[i].box.Min.X < glyphs[j].box.Min.X })
	var boxes []image.Rectangle
	for _, g := range glyphs {
		joined := false
		for i, b := range boxes {
			overlap := min(b.Max.Y, g.box.Max.Y) - max(b.Min.Y, g.box.Min.Y)
			h := max(b.Dy(), g.box.Dy())
			gap := g.box.Min.X - b.Max.X
			if overlap > 0 && 2*overlap >= min(b.Dy(), g.box.Dy()) && gap < max(h*3/2, int(12*s.dp)) && s.likeHeights(b, g.box) {
				boxes[i] = b.Union(g.box)
				joined = true
				break
			}
		}
		if !joined {
			boxes = append(boxes, g.box)
		}
	}
	// Join again: a line's first strokes may have started two boxes that grew together. Each
	// pass joins what it can without starting over (a box that grew is compared again with
	// the rest), so a pass costs the square of the boxes, and a few passes settle it.
	for changed, pass := true, 0; changed && pass < 16; pass++ {
		changed = false
		for i := 0; i < len(boxes); i++ {
			for j := i + 1; j < len(boxes); {
				a, b := boxes[i], boxes[j]
				overlap := min(a.Max.Y, b.Max.Y) - max(a.Min.Y, b.Min.Y)
				gap := max(a.Min.X, b.Min.X) - min(a.Max.X, b.Max.X)
				if overlap > 0 && 2*overlap >= min(a.Dy(), b.Dy()) && gap < max(a.Dy(), b.Dy())*3/2 && s.likeHeights(a, b) {
					boxes[i] = a.Union(b)
					boxes = append(boxes[:j], boxes[j+1:]...)
					changed = true
					j = i + 1 // the grown box against every later one again
					continue
				}
				j++
			}
		}
	}
	var lines []pageLine
	for _, b := range boxes {
		if float64(b.Dy()) < 5*s.dp && float64(b.Dx()) < 5*s.dp {
			continue // a speck
		}
		l := pageLine{box: b, ink: s.inkContrast(img, b)}
		for _, body := range s.bodies {
			if b.In(body.box) {
				l.pill = true
			}
		}
		lines = append(lines, l)
	}
	// A notice on a pill is a body to the blobs; its text is a line on the page.
	var bodies []body
	for _, b := range s.bodies {
		if s.isPill(b) {
			lines = append(lines, pageLine{box: b.box, ink: s.inkContrast(img, b.box), pill: true})
			continue
		}
		bodies = append(bodies, b)
	}
	s.bodies = bodies
	sort.SliceStable(lines, func(i, j int) bool { return lines[i].box.Min.Y < lines[j].box.Min.Y })
	return lines
}

// likeHeights reports two boxes of strokes that may be of one line of text: neither is more
// than twice as tall as the other, or the shorter lies within the taller's height and the
// taller is no more than a line of text (the strokes of 三, a comma; not a sliver of an avatar
// the crop cut, beside a name).
func (s *scene) likeHeights(a, b image.Rectangle) bool {
	if a.Dy() < b.Dy() {
		a, b = b, a
	}
	if a.Dy() <= 2*b.Dy() {
		return true
	}
	return float64(a.Dy()) < 28*s.dp && b.Min.Y >= a.Min.Y-2 && b.Max.Y <= a.Max.Y+2
}

// isPill is a flat block centred on the page with no avatar beside it and no more than two
// short lines' height: the pill some notices and separators are written on.
func (s *scene) isPill(b body) bool {
	if b.flat < 0.6 || !s.centred(b.box) || float64(b.box.Dy()) > 44*s.dp || b.colour.green() {
		return false
	}
	for _, a := range s.avatars {
		if a.Max.Y > b.box.Min.Y-int(30*s.dp) && a.Min.Y < b.box.Max.Y {
			return false
		}
	}
	return true
}

// centred reports a box about the middle of the chat's width, as WeChat draws separators,
// system notices and the title; neither edge is near the picture's.
func (s *scene) centred(b image.Rectangle) bool {
	mid := (b.Min.X + b.Max.X) / 2
	return abs(mid-s.W/2) <= max(s.W/40, int(6*s.dp)) && b.Min.X > s.W/10 && b.Max.X < s.W*9/10
}

// inkContrast is the strongest difference in luminance between the page and a pixel of b.
func (s *scene) inkContrast(img *image.RGBA, b image.Rectangle) int {
	pl := int(s.page.luma())
	best := 0
	b = b.Intersect(img.Rect)
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			best = max(best, abs(int(colourAt(img, x, y).luma())-pl))
		}
	}
	return best
}

// findTitle takes the title bar's text: the first line, above every message and avatar, in
// the top of the picture, over its middle and written in the text's full contrast (separators and
// notices are grey). It is found among the lines above the chat (over a rule under the title
// bar) or, when no rule parts the bar from the chat, the chat's own first lines. What is
// above it, and it, is chrome.
func (s *scene) findTitle(above []pageLine) {
	top := s.chat.Max.Y
	for _, b := range s.bodies {
		top = min(top, b.box.Min.Y)
	}
	for _, a := range s.avatars {
		top = min(top, a.Min.Y)
	}
	limit := int(110 * s.dp)
	for i, l := range append(above, s.lines...) {
		if l.box.Min.Y > limit || l.box.Max.Y > top {
			break
		}
		// Centred on the phone's screen, which a crop may not keep in the middle.
		overMiddle := l.box.Min.X < s.W/2 && l.box.Max.X > s.W/2 && l.box.Min.X > s.W/20 && l.box.Max.X < s.W-s.W/20
		if overMiddle && !l.pill && l.ink >= 140 {
			s.title = l.box
			if i >= len(above) {
				s.chat.Min.Y = l.box.Max.Y + 1
				s.lines = s.lines[i-len(above)+1:]
			}
			return
		}
	}
}

// pictures joins what the page shows as separate strokes into the pictures they are: a
// sticker drawn without a bubble is a cluster of blocks beside an avatar, taller than text.
func (s *scene) pictures() {
	var lines []pageLine
	for _, l := range s.lines {
		if float64(l.box.Dy()) >= 30*s.dp && !s.centred(l.box) {
			s.bodies = append(s.bodies, body{box: l.box})
			continue
		}
		lines = append(lines, l)
	}
	s.lines = lines
}

// cutOff reports a body the picture's edge or the chrome cuts: it reaches the chat's top or
// bottom, or a bubble's top or bottom corners are square (a bubble's are round; one scrolled
// under a bar of the page's colour ends straight).
func (s *scene) cutOff(img *image.RGBA, b body) bool {
	if b.box.Min.Y <= s.chat.Min.Y+1 || b.box.Max.Y >= s.chat.Max.Y-1 {
		return true
	}
	if !b.bubble() {
		return false
	}
	square := func(y int) bool {
		l := colourAt(img, b.box.Min.X+1, y)
		r := colourAt(img, b.box.Max.X-2, y)
		return !onPage(l, s.page) && !onPage(r, s.page)
	}
	return square(b.box.Min.Y+1) || square(b.box.Max.Y-2)
}

// flatShare is the share of r's pixels (sampled) of its commonest colour.
func flatShare(img *image.RGBA, r image.Rectangle) float64 {
	_, f := commonColour(img, r)
	return f
}

// commonColour is the commonest colour of rs (sampled, in buckets of 8 levels) and the share
// of the samples within a few levels of it.
func commonColour(img *image.RGBA, rs ...image.Rectangle) (rgb, float64) {
	count := map[rgb]int{}
	var samples []rgb
	for _, r := range rs {
		r = r.Intersect(img.Rect)
		if r.Empty() {
			continue
		}
		step := max(1, min(r.Dx(), r.Dy())/40, r.Dx()*r.Dy()/4000)
		for y := r.Min.Y; y < r.Max.Y; y += step {
			for x := r.Min.X; x < r.Max.X; x += step {
				c := colourAt(img, x, y)
				count[rgb{c.r &^ 7, c.g &^ 7, c.b &^ 7}]++
				samples = append(samples, c)
			}
		}
	}
	if len(samples) == 0 {
		return rgb{}, 0
	}
	var best rgb
	n := -1
	for c, k := range count {
		if k > n || k == n && c.r > best.r {
			best, n = c, k
		}
	}
	// The mean of the samples near the bucket, and the share of the samples near that: JPEG
	// spreads a flat green over a dozen levels.
	var sr, sg, sb, m int
	for _, c := range samples {
		if c.near(rgb{best.r + 4, best.g + 4, best.b + 4}, 12) {
			sr += int(c.r)
			sg += int(c.g)
			sb += int(c.b)
			m++
		}
	}
	if m == 0 {
		return best, 0
	}
	mean := rgb{uint8(sr / m), uint8(sg / m), uint8(sb / m)}
	near := 0
	for _, c := range samples {
		if c.near(mean, 14) {
			near++
		}
	}
	return mean, float64(near) / float64(len(samples))
}

func median(xs []int) int {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

func absDiff(a, b uint8) int {
	if a > b {
		return int(a - b)
	}
	return int(b - a)
}

func (c rgb) luma() uint8 {
	return uint8((299*uint32(c.r) + 587*uint32(c.g) + 114*uint32(c.b) + 500) / 1000)
}

// chroma is how far a colour is from grey: its channels' spread.
func (c rgb) chroma() int {
	return int(max(c.r, c.g, c.b)) - int(min(c.r, c.g, c.b))
}

// green is the colour of one's own bubbles: #95EC69 in light mode, #3EB575 or so in dark.
func (c rgb) green() bool {
	return int(c.g) > int(c.r)+40 && int(c.g) > int(c.b)+40
}

// orange is the colour of red packets and transfers (#FA9D3B, darker in dark mode).
func (c rgb) orange() bool {
	return int(c.r) > int(c.g)+40 && int(c.g) > int(c.b)+30
}
