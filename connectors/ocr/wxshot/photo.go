package wxshot

import (
	"bytes"
	"encoding/base64"
	"image"
	"image/color"
	"image/jpeg"
	"math"
	"math/rand/v2"
)

// Avatars and pictures are drawn as photographs look to a reader of the screenshot: smooth
// gradients, soft coloured blobs, sensor noise, and sometimes a face (a head and shoulders),
// a landscape's skyline or a machine's box. They are not initials on a flat colour, which a
// layout reader could learn to find.

// photo draws a w×h photo-like picture from seed.
func photo(seed int64, w, h int, face bool) *image.RGBA {
	r := rand.New(rand.NewPCG(uint64(seed), 0xface))
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	top, bottom := randColor(r), randColor(r)
	type blob struct {
		x, y, rad float64
		c         [3]float64
		a         float64
	}
	var blobs []blob
	for range 3 + r.IntN(6) {
		blobs = append(blobs, blob{r.Float64(), r.Float64(), 0.08 + 0.35*r.Float64(), randColor(r), 0.4 + 0.6*r.Float64()})
	}
	scene := r.IntN(4) // 0 plain, 1 skyline, 2 a box (a machine, a cabinet), 3 a flower
	phase, freq := r.Float64()*6, 4+r.Float64()*8
	ground := randColor(r)
	bx0, by0 := 0.15+0.3*r.Float64(), 0.2+0.3*r.Float64()
	bx1, by1 := bx0+0.25+0.3*r.Float64(), by0+0.3+0.3*r.Float64()
	boxc := randColor(r)
	person := newFace(r)
	for y := range h {
		fy := float64(y) / float64(h)
		for x := range w {
			fx := float64(x) / float64(w)
			c := mix(top, bottom, fy)
			for _, b := range blobs {
				dx, dy := (fx-b.x)/b.rad, (fy-b.y)/b.rad
				if d2 := dx*dx + dy*dy; d2 < 9 { // beyond 3 radii a blob adds nothing visible
					c = mix(c, b.c, b.a*math.Exp(-d2))
				}
			}
			switch scene {
			case 1:
				if fy > 0.55+0.12*math.Sin(fx*freq+phase)+0.05*math.Sin(fx*freq*3.1) {
					c = mix(c, ground, 0.85)
				}
			case 2:
				if fx > bx0 && fx < bx1 && fy > by0 && fy < by1 {
					c = mix(c, boxc, 0.9-0.3*(fx-bx0))
					// A panel with a display and knobs, as on a machine's front.
					if fx > bx0+0.05 && fx < bx0+0.2 && fy > by0+0.05 && fy < by0+0.12 {
						c = mix(c, [3]float64{40, 60, 50}, 0.9)
					}
					if math.Hypot(fx-bx1+0.08, fy-by0-0.09) < 0.03 {
						c = mix(c, [3]float64{30, 30, 30}, 0.8)
					}
				}
				if fy > by1 && fy < by1+0.03 && fx > bx0 && fx < bx1+0.05 {
					c = mix(c, [3]float64{0, 0, 0}, 0.35) // its shadow
				}
			case 3:
				dx, dy := fx-0.5, fy-0.5
				petals := math.Abs(math.Cos(3 * math.Atan2(dy, dx)))
				if d := math.Hypot(dx, dy); d < 0.08 {
					c = mix(c, [3]float64{250, 200, 40}, 0.95)
				} else if d < 0.12+0.22*petals {
					c = mix(c, boxc, 0.9-d)
				}
			}
			if face {
				c = person.paint(c, fx, fy)
			}
			n := (r.Float64() - 0.5) * 18
			img.SetRGBA(x, y, color.RGBA{clamp(c[0] + n), clamp(c[1] + n), clamp(c[2] + n), 255})
		}
	}
	return img
}

// face is one person's head and shoulders: where, how big, and their colours and hair.
type face struct {
	x, y, scale            float64
	skin, hair, shirt      [3]float64
	longHair, glasses      bool
	eyeGap, mouthY, mouthW float64
}

func newFace(r *rand.Rand) face {
	tone := r.Float64()
	return face{
		x: 0.5 + 0.12*(r.Float64()-0.5), y: 0.08 * (r.Float64() - 0.5), scale: 0.85 + 0.35*r.Float64(),
		skin:     [3]float64{170 + 70*tone, 125 + 65*tone, 95 + 65*tone},
		hair:     mix([3]float64{20, 15, 12}, [3]float64{150, 100, 60}, r.Float64()*r.Float64()),
		shirt:    [3]float64{255 * r.Float64(), 255 * r.Float64(), 255 * r.Float64()},
		longHair: r.IntN(2) == 0, glasses: r.IntN(4) == 0,
		eyeGap: 0.07 + 0.03*r.Float64(), mouthY: 0.11 + 0.03*r.Float64(), mouthW: 0.04 + 0.04*r.Float64(),
	}
}

// paint paints the face over c at (fx, fy) in the unit square.
func (f face) paint(c [3]float64, fx, fy float64) [3]float64 {
	// In the face's own frame: head centre at (0, 0), a head about 0.4 tall.
	x, y := (fx-f.x)/f.scale, (fy-0.5-f.y)/f.scale
	if math.Hypot(x/0.42, (y-0.55)/0.32) < 1 {
		c = mix(c, f.shirt, 0.95)
	}
	if f.longHair && math.Abs(x) < 0.26 && y > -0.1 && y < 0.32 {
		c = mix(c, f.hair, 0.95)
	}
	if math.Hypot(x/0.25, (y+0.12)/0.26) < 1 {
		c = mix(c, f.hair, 0.95)
	}
	if d := math.Hypot(x/0.2, y/0.25); d < 1 && y > -0.14 {
		c = mix(c, f.skin, 0.95-0.3*d*d)
	}
	for _, ex := range []float64{-f.eyeGap, f.eyeGap} {
		if math.Hypot(x-ex, y) < 0.022 {
			c = mix(c, [3]float64{30, 25, 25}, 0.9)
		}
		if f.glasses && math.Abs(math.Hypot(x-ex, y)-0.05) < 0.008 {
			c = mix(c, [3]float64{20, 20, 20}, 0.9)
		}
	}
	if math.Abs(y-f.mouthY) < 0.012 && math.Abs(x) < f.mouthW {
		c = mix(c, [3]float64{150, 70, 70}, 0.7)
	}
	return c
}

// randColor is a colour as photographs have them: seldom fully saturated.
func randColor(r *rand.Rand) [3]float64 {
	c := [3]float64{255 * r.Float64(), 255 * r.Float64(), 255 * r.Float64()}
	grey := (c[0] + c[1] + c[2]) / 3
	return mix(c, [3]float64{grey, grey, grey}, 0.35)
}

func mix(a, b [3]float64, t float64) [3]float64 {
	return [3]float64{a[0] + (b[0]-a[0])*t, a[1] + (b[1]-a[1])*t, a[2] + (b[2]-a[2])*t}
}

func clamp(v float64) uint8 {
	return uint8(max(0, min(255, math.Round(v))))
}

// dataURI encodes img as a JPEG data URI for the page.
func dataURI(img image.Image) string {
	var b bytes.Buffer
	_ = jpeg.Encode(&b, img, &jpeg.Options{Quality: 88}) // in memory: cannot fail
	return "data:image/jpeg;base64," + base64.StdEncoding.EncodeToString(b.Bytes())
}

// avatarURI is a member's photo avatar: a face more often than not, as people choose.
func avatarURI(seed int64) string {
	return dataURI(photo(seed, 132, 132, seed%5 < 3 && seed%5 > -3))
}
