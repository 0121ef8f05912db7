package api

import (
	"errors"
	"io"
	"net/http"
	"time"

	"gongdan/attachments"
)

// getAttachment serves a kept file by its SHA-256, with the type its first bytes say.
func (s *Server) getAttachment(w http.ResponseWriter, r *http.Request) {
	sha := r.PathValue("sha256")
	var f io.ReadSeekCloser
	var err error = attachments.ErrNotFound
	if s.opts.Attachments != nil {
		f, err = s.opts.Attachments.Open(sha)
	}
	if errors.Is(err, attachments.ErrNotFound) {
		writeProblem(w, r, newProblem(http.StatusNotFound, "not-found", "no attachment has SHA-256 "+sha))
		return
	} else if err != nil {
		writeProblem(w, r, newProblem(http.StatusInternalServerError, "internal", "reading the attachment failed"))
		return
	}
	defer f.Close()
	head := make([]byte, 512)
	n, _ := io.ReadFull(f, head)
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		writeProblem(w, r, newProblem(http.StatusInternalServerError, "internal", "reading the attachment failed"))
		return
	}
	w.Header().Set("Content-Type", http.DetectContentType(head[:n]))
	w.Header().Set("Cache-Control", "private, max-age=31536000, immutable") // its name is its content
	w.Header().Set("X-Content-Type-Options", "nosniff")
	http.ServeContent(w, r, "", time.Time{}, f)
}
