package ocr

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	_ "image/jpeg" // screenshots come as PNG or JPEG
	_ "image/png"
	"io"
)

// Limits bound what one screenshot may be: a phone screenshot is a few hundred KiB and some
// 2.6 million pixels; anything far beyond that is not one, and decoding it would only cost
// memory (a PNG of 1 KiB can claim to be 60,000 × 60,000).
type Limits struct {
	MaxBytes  int64
	MaxPixels int
}

// DefaultLimits take any phone or tablet screenshot.
var DefaultLimits = Limits{MaxBytes: 20 << 20, MaxPixels: 40_000_000}

// ImageError is a file that is not a screenshot gongdan can read: not PNG or JPEG, corrupt,
// or over a limit. Its message says which, for the uploader.
type ImageError struct{ Reason string }

func (e *ImageError) Error() string { return e.Reason }

// decodeImage reads a PNG or JPEG within lim; its header is checked before the pixels are.
func decodeImage(b []byte, lim Limits) (image.Image, error) {
	if lim.MaxBytes > 0 && int64(len(b)) > lim.MaxBytes {
		return nil, &ImageError{fmt.Sprintf("the file is %d bytes, over the limit of %d", len(b), lim.MaxBytes)}
	}
	format, err := imageConfig(bytes.NewReader(b), lim)
	if err != nil {
		return nil, err
	}
	img, _, err := image.Decode(bytes.NewReader(b))
	if err != nil {
		return nil, &ImageError{fmt.Sprintf("the %s image is corrupt: %s", format, describeDecodeError(err))}
	}
	return img, nil
}

// imageConfig checks an image's header, read from r: PNG or JPEG, of a size within lim. It
// reads only as far as the header (an upload's file is checked on disk, not in memory).
func imageConfig(r io.Reader, lim Limits) (string, error) {
	cfg, format, err := image.DecodeConfig(r)
	if err != nil {
		return "", &ImageError{"not a PNG or JPEG image: " + describeDecodeError(err)}
	}
	if format != "png" && format != "jpeg" {
		return "", &ImageError{fmt.Sprintf("a %s image; screenshots are read as PNG or JPEG", format)}
	}
	if cfg.Width < 16 || cfg.Height < 16 {
		return "", &ImageError{fmt.Sprintf("the image is %d×%d pixels, too small to hold a chat", cfg.Width, cfg.Height)}
	}
	if lim.MaxPixels > 0 && cfg.Width*cfg.Height > lim.MaxPixels {
		return "", &ImageError{fmt.Sprintf("the image is %d×%d pixels, over the limit of %d pixels (max_pixels)", cfg.Width, cfg.Height, lim.MaxPixels)}
	}
	return format, nil
}

func describeDecodeError(err error) string {
	if errors.Is(err, image.ErrFormat) {
		return "its first bytes are not an image format's"
	}
	return err.Error()
}

// rgbaOf returns img as *image.RGBA (the decoders give NRGBA, RGBA or YCbCr), opaque: a
// picture with transparent parts (a chat whose page an editor cut away) is laid on the
// colour of WeChat's light page, on which white and green bubbles, names and times show as
// they do in WeChat (on white, white bubbles would vanish); copied as it is, its transparent
// page would turn black, and black text with it.
func rgbaOf(img image.Image) *image.RGBA {
	opaque := true
	if o, ok := img.(interface{ Opaque() bool }); ok {
		opaque = o.Opaque()
	}
	if r, ok := img.(*image.RGBA); ok && r.Rect.Min == (image.Point{}) && opaque {
		return r
	}
	b := img.Bounds()
	r := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	op := draw.Src
	if !opaque {
		draw.Draw(r, r.Rect, image.NewUniform(lightPage), image.Point{}, draw.Src)
		op = draw.Over
	}
	draw.Draw(r, r.Rect, img, b.Min, op)
	return r
}

// lightPage is the colour of WeChat's page in light mode.
var lightPage = color.RGBA{0xED, 0xED, 0xED, 0xFF}

// luma is the Rec. 601 luminance of an RGBA pixel at off, 0–255.
func luma(p []uint8, off int) uint8 {
	return uint8((299*uint32(p[off]) + 587*uint32(p[off+1]) + 114*uint32(p[off+2]) + 500) / 1000)
}

// grayOf is the luminance of img, scaled up by factor (1 or 2).
func grayOf(img *image.RGBA, factor int) *image.Gray {
	w, h := img.Rect.Dx(), img.Rect.Dy()
	g := image.NewGray(image.Rect(0, 0, w*factor, h*factor))
	for y := 0; y < h; y++ {
		row := img.Pix[y*img.Stride:]
		for x := 0; x < w; x++ {
			v := luma(row, 4*x)
			for dy := 0; dy < factor; dy++ {
				o := (y*factor+dy)*g.Stride + x*factor
				for dx := 0; dx < factor; dx++ {
					g.Pix[o+dx] = v
				}
			}
		}
	}
	return g
}

// binarize makes text black on white whatever it was drawn on: dark on a white or green
// bubble, light on a dark-mode bubble, grey on the page. A pixel is "flat" when the 9×9
// square around it varies by less than flatRange: the page and the inside of bubbles are
// flat, strokes of text are not (they are thinner than 9 pixels). Every pixel is compared
// with the nearest flat pixels left, right, above and below it, its backgrounds: a pixel
// outside their range by more than inkContrast is ink. The edge of a bubble lies between
// the page and the bubble, inside their range, so it is not ink and no frame is drawn around
// the text for Tesseract to read as characters.
func binarize(g *image.Gray) *image.Gray {
	const (
		radius      = 4
		flatRange   = 10
		inkContrast = 28
		inkRamp     = 40 // contrast beyond inkContrast that is full black
	)
	w, h := g.Rect.Dx(), g.Rect.Dy()
	lo, hi := windowMinMax(g.Pix, w, h, radius)
	flat := make([]bool, w*h)
	for i := range flat {
		flat[i] = int(hi[i])-int(lo[i]) < flatRange
	}
	// The nearest flat value on each side; -1 where there is none.
	minBg := make([]int16, w*h)
	maxBg := make([]int16, w*h)
	for i := range minBg {
		minBg[i], maxBg[i] = 256, -1
	}
	note := func(i int, v int16) {
		if v < 0 {
			return
		}
		if v < minBg[i] {
			minBg[i] = v
		}
		if v > maxBg[i] {
			maxBg[i] = v
		}
	}
	// sweep walks n pixels from start by step (g's rows are w bytes: it comes from grayOf),
	// noting at each the last flat value passed.
	sweep := func(start, step, n int) {
		last := int16(-1)
		for k, i := 0, start; k < n; k, i = k+1, i+step {
			if flat[i] {
				last = int16(g.Pix[i])
			}
			note(i, last)
		}
	}
	for y := 0; y < h; y++ {
		sweep(y*w, 1, w)
		sweep(y*w+w-1, -1, w)
	}
	for x := 0; x < w; x++ {
		sweep(x, w, h)
		sweep((h-1)*w+x, -w, h)
	}
	out := image.NewGray(image.Rect(0, 0, w, h))
	for i, v := range g.Pix {
		out.Pix[i] = 255
		if maxBg[i] < 0 {
			continue // no background anywhere in its row or column: leave it
		}
		var d int16
		switch x := int16(v); {
		case x < minBg[i]:
			d = minBg[i] - x
		case x > maxBg[i]:
			d = x - maxBg[i]
		}
		// Grey, not black and white: Tesseract's recognizer reads the anti-aliased edges of
		// strokes, and misreads (门 as 内) when they are cut off at a threshold.
		if d > inkContrast {
			out.Pix[i] = uint8(255 - min(255, int(d-inkContrast)*255/inkRamp))
		}
	}
	return out
}

// windowMinMax is the minimum and maximum of each pixel's (2r+1)² square, by separable
// running passes (rows, then columns).
func windowMinMax(p []uint8, w, h, r int) (lo, hi []uint8) {
	rowLo := make([]uint8, w*h)
	rowHi := make([]uint8, w*h)
	for y := 0; y < h; y++ {
		row := p[y*w : (y+1)*w]
		for x := 0; x < w; x++ {
			mn, mx := uint8(255), uint8(0)
			for k := max(0, x-r); k <= min(w-1, x+r); k++ {
				v := row[k]
				mn = min(mn, v)
				mx = max(mx, v)
			}
			rowLo[y*w+x], rowHi[y*w+x] = mn, mx
		}
	}
	lo = make([]uint8, w*h)
	hi = make([]uint8, w*h)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			mn, mx := uint8(255), uint8(0)
			for k := max(0, y-r); k <= min(h-1, y+r); k++ {
				mn = min(mn, rowLo[k*w+x])
				mx = max(mx, rowHi[k*w+x])
			}
			lo[y*w+x], hi[y*w+x] = mn, mx
		}
	}
	return lo, hi
}

// cropGray copies r of g into a picture of its own, at 0,0.
func cropGray(g *image.Gray, r image.Rectangle) *image.Gray {
	out := image.NewGray(image.Rect(0, 0, r.Dx(), r.Dy()))
	for y := r.Min.Y; y < r.Max.Y; y++ {
		copy(out.Pix[(y-r.Min.Y)*out.Stride:(y-r.Min.Y+1)*out.Stride], g.Pix[g.PixOffset(r.Min.X, y):g.PixOffset(r.Max.X, y)])
	}
	return out
}

// scaleGray scales g (at 0,0) up by an integer factor, bilinearly: the strokes of small
// characters keep their grey edges, which Tesseract reads by.
func scaleGray(g *image.Gray, factor int) *image.Gray {
	w, h := g.Rect.Dx(), g.Rect.Dy()
	out := image.NewGray(image.Rect(0, 0, w*factor, h*factor))
	for y := 0; y < h*factor; y++ {
		// The source position of the output pixel's centre, in 1/256ths.
		sy := max(0, ((2*y+1)*256/(2*factor))-128)
		y0 := min(h-1, sy>>8)
		y1 := min(h-1, y0+1)
		fy := sy & 255
		row0, row1 := g.Pix[y0*g.Stride:], g.Pix[y1*g.Stride:]
		o := out.Pix[y*out.Stride:]
		for x := 0; x < w*factor; x++ {
			sx := max(0, ((2*x+1)*256/(2*factor))-128)
			x0 := min(w-1, sx>>8)
			x1 := min(w-1, x0+1)
			fx := sx & 255
			top := int(row0[x0])*(256-fx) + int(row0[x1])*fx
			bot := int(row1[x0])*(256-fx) + int(row1[x1])*fx
			o[x] = uint8((top*(256-fy) + bot*fy + 1<<15) >> 16)
		}
	}
	return out
}
