package ocr

import (
	"context"
	"os"
	"testing"

	"gongdan/connectors/ocr/ocrtest"
)

// BenchmarkReadScreenshot reads a full 1080×2400 phone screenshot of a group chat (eight
// messages, two separators, names, wrapped lines) end to end: decode, preprocess, OCR of
// every line, layout. "one-client" is one Tesseract client, one reading at a time (one core:
// OpenMP is held to one thread); "pool" reads with a client per core, as many at once.
func BenchmarkReadScreenshot(b *testing.B) {
	dir := b.TempDir()
	shots, err := ocrtest.Render(mustChat(b, "overlap"), dir)
	if err != nil {
		b.Fatal(err)
	}
	img, err := os.ReadFile(shots[0].Path)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("one-client", func(b *testing.B) {
		e := NewPool(1)
		defer e.Close()
		if _, err := e.Read(context.Background(), img, DefaultLimits, ocrtest.At); err != nil { // the models load
			b.Fatal(err)
		}
		b.ResetTimer()
		for b.Loop() {
			if _, err := e.Read(context.Background(), img, DefaultLimits, ocrtest.At); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "screenshots/s")
	})
	b.Run("pool", func(b *testing.B) {
		e := NewPool(0) // one per core, as the connector's default
		defer e.Close()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := e.Read(context.Background(), img, DefaultLimits, ocrtest.At); err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "screenshots/s")
	})
}
