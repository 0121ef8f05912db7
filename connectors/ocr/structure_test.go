package ocr

import (
	"image"
	"image/color"
	"math/rand"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// canvas draws the shapes of a chat screenshot — no text, only its strokes — for the
// structure's tests, which need no OCR.
type canvas struct {
	*image.RGBA
	rnd *rand.Rand
}

func newCanvas(w, h int, page color.RGBA) canvas {
	c := canvas{image.NewRGBA(image.Rect(0, 0, w, h)), rand.New(rand.NewSource(1))}
	c.fill(c.Rect, page)
	return c
}

func (c canvas) fill(r image.Rectangle, col color.RGBA) {
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			c.SetRGBA(x, y, col)
		}
	}
}

// bubble is a rounded rectangle with a tail on the side of the avatar, and strokes of text.
func (c canvas) bubble(r image.Rectangle, col, ink color.RGBA, tailLeft bool) {
	const radius = 12
	page := c.RGBAAt(r.Min.X, r.Min.Y)
	c.fill(r, col)
	for y := 0; y < radius; y++ {
		for x := 0; x < radius; x++ {
			if dx, dy := radius-x, radius-y; dx*dx+dy*dy > radius*radius {
				c.SetRGBA(r.Min.X+x, r.Min.Y+y, page)
				c.SetRGBA(r.Max.X-1-x, r.Min.Y+y, page)
				c.SetRGBA(r.Min.X+x, r.Max.Y-1-y, page)
				c.SetRGBA(r.Max.X-1-x, r.Max.Y-1-y, page)
			}
		}
	}
	tail := r.Min.X - 16
	if !tailLeft {
		tail = r.Max.X
	}
	c.fill(image.Rect(tail, r.Min.Y+36, tail+16, r.Min.Y+56), col)
	c.strokes(r.Inset(36), ink, 50)
}

// strokes draws lines of character-like strokes of height h in r.
func (c canvas) strokes(r image.Rectangle, ink color.RGBA, h int) {
	for y := r.Min.Y; y+h <= r.Max.Y; y += h * 3 / 2 {
		for x := r.Min.X; x+h <= r.Max.X; x += h + h/8 {
			c.fill(image.Rect(x, y, x+h/8, y+h), ink)
			c.fill(image.Rect(x, y+h/2, x+h*3/4, y+h/2+h/10), ink)
			c.fill(image.Rect(x+h*2/3, y, x+h*2/3+h/8, y+h*4/5), ink)
		}
	}
}

// photo is a block of noise: a photo's avatar or a picture sent in the chat.
func (c canvas) photo(r image.Rectangle) {
	for y := r.Min.Y; y < r.Max.Y; y += 4 {
		for x := r.Min.X; x < r.Max.X; x += 4 {
			col := color.RGBA{uint8(c.rnd.Intn(256)), uint8(c.rnd.Intn(256)), uint8(c.rnd.Intn(256)), 255}
			c.fill(image.Rect(x, y, min(x+4, r.Max.X), min(y+4, r.Max.Y)), col)
		}
	}
}

var (
	white      = color.RGBA{0xFF, 0xFF, 0xFF, 255}
	ownGreen   = color.RGBA{0x95, 0xEC, 0x69, 255}
	textBlack  = color.RGBA{0x19, 0x19, 0x19, 255}
	nameGrey   = color.RGBA{0x88, 0x88, 0x88, 255}
	noticeGrey = color.RGBA{0xA8, 0xA8, 0xA8, 255}
)

// A customer's long message reaches nearly as far right as one's own; its avatar is a photo
// and its name starts right after the avatar. Its side is told by the avatar, colour and name,
// not by where it ends; a picture sent beside an avatar is a picture; a separator is centred.
func TestTheSceneOfAChat(t *testing.T) {
	c := newCanvas(1080, 1300, lightPage)
	c.photo(image.Rect(36, 100, 156, 220))                                // her avatar
	c.strokes(image.Rect(170, 100, 330, 136), nameGrey, 34)               // her name, right after it
	c.bubble(image.Rect(184, 150, 1080-184, 420), white, textBlack, true) // a long message
	c.photo(image.Rect(924, 470, 1044, 590))                              // one's own avatar
	c.bubble(image.Rect(560, 470, 904, 590), ownGreen, textBlack, false)  // one's own message
	c.strokes(image.Rect(460, 650, 620, 690), noticeGrey, 38)             // a separator
	c.photo(image.Rect(36, 740, 156, 860))                                // another avatar
	c.strokes(image.Rect(180, 740, 300, 776), nameGrey, 34)               // his name
	c.photo(image.Rect(184, 790, 560, 1100))                              // his picture
	c.bubble(image.Rect(184, 1180, 500, 1300), white, textBlack, true)    // cut by the picture's edge

	s := findScene(c.RGBA)
	assert.Len(t, s.avatars, 3)
	assert.InDelta(t, 3.0, s.dp, 0.01, "the avatars give the scale")
	msgs := s.messages(c.RGBA)
	require.Len(t, msgs, 4)

	long := msgs[0]
	assert.Equal(t, left, long.side)
	assert.Equal(t, []string{"avatar:left", "tail:left", "colour:left", "name:left", "extent:left"}, long.cues)
	assert.Empty(t, long.doubt)
	assert.Equal(t, 170, long.name.Min.X, "the name is found where it starts, right after the avatar")

	own := msgs[1]
	assert.Equal(t, right, own.side)
	assert.True(t, own.name.Empty())

	pic := msgs[2]
	assert.Equal(t, left, pic.side)
	assert.Less(t, pic.body.flat, 0.5, "a picture is no flat bubble")
	assert.False(t, pic.name.Empty())

	assert.True(t, msgs[3].cut)

	var centred int
	for _, l := range s.lines {
		if s.centred(l.box) {
			centred++
		}
	}
	assert.Equal(t, 1, centred, "the separator")
}

// In a crop without avatars, a green bubble is one's own and a white one with a name above is
// someone else's; when the cues disagree the slot says so and is less sure.
func TestSideWithoutAvatars(t *testing.T) {
	c := newCanvas(900, 900, lightPage)
	c.strokes(image.Rect(40, 60, 200, 96), nameGrey, 34)
	c.bubble(image.Rect(30, 110, 860, 300), white, textBlack, true) // long: its extent says little
	c.bubble(image.Rect(500, 360, 880, 480), ownGreen, textBlack, false)
	c.strokes(image.Rect(560, 540, 700, 576), nameGrey, 34) // a name above a green bubble
	c.bubble(image.Rect(550, 590, 880, 710), ownGreen, textBlack, false)

	s := findScene(c.RGBA)
	assert.Empty(t, s.avatars)
	msgs := s.messages(c.RGBA)
	require.Len(t, msgs, 3)
	assert.Equal(t, left, msgs[0].side)
	assert.Equal(t, right, msgs[1].side)
	assert.Equal(t, 1.0, msgs[1].sure)
	odd := msgs[2]
	assert.Equal(t, right, odd.side, "colour and extent outweigh a name")
	assert.Contains(t, odd.doubt, "name says left")
	assert.Less(t, odd.sure, 1.0)
}
