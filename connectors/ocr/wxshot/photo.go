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
	scene := r.IntN(3) // 0 plain, 1 skyline, 2 a box (a machine, a cabinet)
	phase, freq := r.Float64()*6, 4+r.Float64()*8
	ground := randColor(r)
	bx0, by0 := 0.15+0.3*r.Float64(), 0.2+0.3*r.Float64()
	bx1, by1 := bx0+0.25+0.3*r.Float64(), by0+0.3+0.3*r.Float64()
	boxc := randColor(r)
	skin := [3]float64{200 + 40*r.Float64(), 160 + 40*r.Float64(), 130 + 40*r.Float64()}
	hair := [3]float64{20 + 40*r.Float64(), 15 + 30*r.Float64(), 10 + 30*r.Float64()}
	shirt := randColor(r)
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
				}
			}
			if face {
				c = drawFace(c, fx, fy, skin, hair, shirt)
			}
			n := (r.Float64() - 0.5) * 18
			img.SetRGBA(x, y, color.RGBA{clamp(c[0] + n), clamp(c[1] + n), clamp(c[2] + n), 255})
		}
	}
	return img
}

// drawFace paints head and shoulders, centred, over c at (fx, fy) in the unit square.
func drawFace(c [3]float64, fx, fy float64, skin, hair, shirt [3]float64) [3]float64 {
	if d := math.Hypot((fx-0.5)/0.42, (fy-1.05)/0.32); d < 1 {
		c = mix(c, shirt, 0.95)
	}
	if d := math.Hypot((fx-0.5)/0.25, (fy-0.38)/0.26); d < 1 {
		c = mix(c, hair, 0.95)
	}
	if d := math.Hypot((fx-0.5)/0.2, (fy-0.5)/0.25); d < 1 && fy > 0.36 {
		c = mix(c, skin, 0.95-0.3*d*d)
	}
	for _, ex := range []float64{0.42, 0.58} {
		if math.Hypot(fx-ex, fy-0.5) < 0.025 {
			c = mix(c, [3]float64{30, 25, 25}, 0.9)
		}
	}
	if math.Abs(fy-0.62) < 0.012 && math.Abs(fx-0.5) < 0.06 {
		c = mix(c, [3]float64{150, 70, 70}, 0.7)
	}
	return c
}

func randColor(r *rand.Rand) [3]float64 {
	return [3]float64{255 * r.Float64(), 255 * r.Float64(), 255 * r.Float64()}
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
