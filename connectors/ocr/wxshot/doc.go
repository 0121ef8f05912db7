// Package wxshot draws WeChat group-chat screenshots with their truth, for the tests of the
// screenshot OCR connector: a second test corpus, independent of the first (ocrtest).
//
// Independence is the point. ocrtest draws with ImageMagick, and the connector's layout code
// was tuned on its pictures; wxshot draws with Chromium (through chromedp) from HTML and CSS
// written from WeChat's real clients' metrics (see Metrics), so the renderer, the text shaping,
// the antialiasing and the geometry all differ. Its author never read the connector's layout
// code nor ocrtest, and nobody should make wxshot look like them: a difference between the two
// is a case the connector must handle, not a bug here.
//
// Corpus makes specs from a seed (DefaultSeed for the shared corpus); Render draws them, one
// browser for all, with each picture's truth in a JSON file beside it; Cached and Default keep
// the pictures under the user's cache directory between test runs. Split holds out a quarter:
// tune on the rest.
//
// It is for tests only (internal/archtest keeps it so): it starts a browser, writes files and
// must never be linked into gongdan.
package wxshot
