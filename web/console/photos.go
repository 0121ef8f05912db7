package console

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/color"
	_ "image/gif" // decoders of the photos attachments.IsPhoto admits
	"image/jpeg"
	_ "image/png"
	"io"
	"mime/multipart"

	"golang.org/x/image/draw"
	_ "golang.org/x/image/webp"

	"gongdan/attachments"
)

// A photo is kept at most this big on its longest side, re-encoded as JPEG of this quality:
// a phone's 12-megapixel picture becomes a few hundred kilobytes that load in the field, and
// the re-encoding leaves its EXIF (the engineer's position, the phone's serial) behind.
const (
	photoMaxSide = 1600
	photoQuality = 82
	// photoMaxPixels refuses a picture whose decoding alone would take more memory than a
	// phone's camera ever needs (a decompression bomb: a small PNG of 100,000 × 100,000).
	photoMaxPixels = 50_000_000
	// photoMaxDecoded bounds the memory one decoding takes, by the picture's colour model:
	// 8 bytes a pixel for a 16-bit PNG (a 200 KiB file of 5000 × 5000 decodes to 200 MiB),
	// 4 for RGBA, about 1.5 to 3 for a JPEG. A phone's 12-megapixel JPEG takes 36 MiB.
	photoMaxDecoded = 160 << 20
	// photoDecodes is how many photos are decoded at once in the process.
	photoDecodes = 2
)

// decodeSlots bounds the photos decoded at once: a few posts at the same time cannot hold
// more than photoDecodes × photoMaxDecoded.
var decodeSlots = make(chan struct{}, photoDecodes)

// decodedBytes is about how much memory decoding a picture of cfg takes.
func decodedBytes(cfg image.Config) int64 {
	per := int64(4)
	switch cfg.ColorModel {
	case color.RGBA64Model, color.NRGBA64Model:
		per = 8
	case color.Gray16Model:
		per = 2
	case color.GrayModel, color.AlphaModel:
		per = 1
	case color.YCbCrModel:
		per = 3
	}
	return int64(cfg.Width) * int64(cfg.Height) * per
}

// photoError is a photo refused, with the key of the text that says why.
type photoError struct {
	Key  string
	Name string
}

func (e *photoError) Error() string { return fmt.Sprintf("photo %q: %s", e.Name, e.Key) }

// readPhotos checks, decodes and resizes the form's photos, all of them before any is kept,
// so a form refused for one bad photo leaves nothing behind. It returns each photo as the
// JPEG to keep.
func (h *Handler) readPhotos(files []*multipart.FileHeader) ([][]byte, error) {
	var real []*multipart.FileHeader
	for _, f := range files {
		if f.Size > 0 || f.Filename != "" {
			real = append(real, f)
		}
	}
	if len(real) == 0 {
		return nil, nil
	}
	if h.opts.Attachments == nil {
		return nil, &photoError{Key: "photos_off"}
	}
	if len(real) > h.opts.MaxPhotos {
		return nil, &photoError{Key: "photos_too_many"}
	}
	out := make([][]byte, 0, len(real))
	for _, f := range real {
		if f.Size > h.opts.MaxPhotoBytes {
			return nil, &photoError{Key: "photo_too_large", Name: f.Filename}
		}
		rd, err := f.Open()
		if err != nil {
			return nil, err
		}
		b, err := io.ReadAll(io.LimitReader(rd, h.opts.MaxPhotoBytes+1))
		rd.Close()
		if err != nil {
			return nil, err
		}
		if int64(len(b)) > h.opts.MaxPhotoBytes {
			return nil, &photoError{Key: "photo_too_large", Name: f.Filename}
		}
		if !attachments.IsPhoto(b) { // by content, never by name: as the tracking page

			return nil, &photoError{Key: "photo_not_image", Name: f.Filename}
		}
		jpg, err := shrinkPhoto(b)
		if err != nil {
			return nil, &photoError{Key: "photo_not_image", Name: f.Filename}
		}
		out = append(out, jpg)
	}
	return out, nil
}

// shrinkPhoto decodes a photo and re-encodes it as JPEG, no larger than photoMaxSide on its
// longest side. Transparency (a PNG's) becomes white.
func shrinkPhoto(b []byte) ([]byte, error) {
	cfg, _, err := image.DecodeConfig(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || cfg.Width*cfg.Height > photoMaxPixels || decodedBytes(cfg) > photoMaxDecoded {
		return nil, errors.New("photo: no picture, or too many pixels")
	}
	decodeSlots <- struct{}{}
	defer func() { <-decodeSlots }()
	src, _, err := image.Decode(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	sb := src.Bounds()
	w, hgt := sb.Dx(), sb.Dy()
	if longest := max(w, hgt); longest > photoMaxSide {
		w, hgt = max(1, w*photoMaxSide/longest), max(1, hgt*photoMaxSide/longest)
	}
	dst := image.NewRGBA(image.Rect(0, 0, w, hgt))
	draw.Draw(dst, dst.Rect, image.NewUniform(color.White), image.Point{}, draw.Src)
	draw.BiLinear.Scale(dst, dst.Rect, src, sb, draw.Over, nil)
	// The EXIF is not kept, so its orientation is applied: a phone held upright stores the
	// picture sideways and says so only there.
	dst = orient(dst, exifOrientation(b))
	var out bytes.Buffer
	if err := jpeg.Encode(&out, dst, &jpeg.Options{Quality: photoQuality}); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// keepPhotos puts the photos in the attachment store and returns how a ticket names them
// (attachments.URI). A photo kept twice is one file: the same photo resent by a retried form
// names the same attachment, so the retry's data equals the first's.
func (h *Handler) keepPhotos(photos [][]byte) ([]string, error) {
	uris := make([]string, 0, len(photos))
	for _, p := range photos {
		sha, _, err := h.opts.Attachments.Put(bytes.NewReader(p), int64(len(p)))
		if err != nil {
			return nil, fmt.Errorf("keeping a photo: %w", err)
		}
		uris = append(uris, attachments.URI(sha))
	}
	return uris, nil
}

// exifOrientation is a JPEG's EXIF orientation (1–8), 1 when it has none.
func exifOrientation(b []byte) int {
	if len(b) < 4 || b[0] != 0xFF || b[1] != 0xD8 {
		return 1
	}
	for i := 2; i+4 <= len(b) && b[i] == 0xFF; {
		marker, size := b[i+1], int(binary.BigEndian.Uint16(b[i+2:]))
		if marker == 0xDA || size < 2 || i+2+size > len(b) { // the picture's data: no more headers
			return 1
		}
		seg := b[i+4 : i+2+size]
		if marker == 0xE1 && len(seg) > 14 && string(seg[:6]) == "Exif\x00\x00" {
			return tiffOrientation(seg[6:])
		}
		i += 2 + size
	}
	return 1
}

// tiffOrientation reads tag 0x0112 of a TIFF header's first directory.
func tiffOrientation(t []byte) int {
	var order binary.ByteOrder
	switch string(t[:2]) {
	case "II":
		order = binary.LittleEndian
	case "MM":
		order = binary.BigEndian
	default:
		return 1
	}
	ifd := int(order.Uint32(t[4:8]))
	if ifd < 8 || ifd+2 > len(t) {
		return 1
	}
	n := int(order.Uint16(t[ifd:]))
	for k := range n {
		e := ifd + 2 + 12*k
		if e+12 > len(t) {
			return 1
		}
		if order.Uint16(t[e:]) == 0x0112 {
			if o := int(order.Uint16(t[e+8:])); o >= 1 && o <= 8 {
				return o
			}
			return 1
		}
	}
	return 1
}

// orient turns a picture stored with EXIF orientation o upright.
func orient(src *image.RGBA, o int) *image.RGBA {
	if o <= 1 || o > 8 {
		return src
	}
	sw, sh := src.Rect.Dx(), src.Rect.Dy()
	w, h := sw, sh
	if o >= 5 {
		w, h = sh, sw
	}
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range sh {
		for x := range sw {
			var dx, dy int
			switch o {
			case 2:
				dx, dy = sw-1-x, y
			case 3:
				dx, dy = sw-1-x, sh-1-y
			case 4:
				dx, dy = x, sh-1-y
			case 5:
				dx, dy = y, x
			case 6:
				dx, dy = sh-1-y, x
			case 7:
				dx, dy = sh-1-y, sw-1-x
			case 8:
				dx, dy = y, sw-1-x
			}
			si, di := src.PixOffset(x, y), dst.PixOffset(dx, dy)
			copy(dst.Pix[di:di+4], src.Pix[si:si+4])
		}
	}
	return dst
}
