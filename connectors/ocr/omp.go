package ocr

import (
	"os"
	"syscall"
)

// OneOpenMPThread makes Tesseract read each screenshot on one thread, by running the process
// again with OMP_THREAD_LIMIT=1 when it is not set (it returns only when it did not, or could
// not, do so; a limit the user set is kept).
//
// Debian's libtesseract parallelises one recognition with OpenMP. The connector already runs
// one Tesseract client per core, and there OpenMP's threads only spin against each other: a
// 1080×800 screenshot took 130 ms with one thread and 800 ms with two, on two cores. libgomp
// reads the limit once, when the process is loaded, before any Go code runs, so setting it
// from Go needs the new process.
func OneOpenMPThread() error {
	if _, set := os.LookupEnv("OMP_THREAD_LIMIT"); set {
		return nil
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	return syscall.Exec(exe, os.Args, append(os.Environ(), "OMP_THREAD_LIMIT=1"))
}
