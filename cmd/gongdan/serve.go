package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"gopkg.in/yaml.v3"

	"gongdan/config"
	"gongdan/connectors"
	"gongdan/connectors/ocr"
	"gongdan/core/store/sqlite"
	"gongdan/logging"
)

func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// timeFlag reads the RFC 3339 time v given to --name, def when v is empty; when v is not
// one, a usage error shows the form with example (a time in the command's use).
func timeFlag(name, v, example string, def time.Time) (time.Time, error) {
	if v == "" {
		return def, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, usageError("--%s %q: want RFC 3339, like %s", name, v, example)
	}
	return t, nil
}

// loadConfig reads --config, or the embedded quickstart when it is empty, and refuses what
// this version cannot run, so that validate and serve agree. It asks both config and the
// connector registry (each connector item's keys beyond name and type are the registry's to
// judge), and reports all their problems together, by line. Its errors are user errors.
// defaultDataDir is serve's --data default: the root of relative paths in the config for the
// commands that have no --data of their own.
const defaultDataDir = "data"

// configFlags are the flags of every command that reads the config: the file, and the data
// root its relative paths are under.
type configFlags struct{ path, dataDir *string }

// addConfigFlags declares --config (described by what) and --data on fs.
func addConfigFlags(fs *flag.FlagSet, what string) configFlags {
	return configFlags{
		path:    fs.String("config", "", what),
		dataDir: fs.String("data", defaultDataDir, "root for relative paths in the config (database, bus storage, connectors' files and folders)"),
	}
}

// load reads the config the flags name.
func (f configFlags) load() (*config.Config, error) { return loadConfigIn(*f.path, *f.dataDir) }

// loadConfigIn reads the config, its connectors checked with their relative paths under
// dataDir (where serve --data dataDir finds them), and keeps dataDir as the config's DataDir:
// every connector built from it (dry runs, the exposure check, serve) reads its files there.
func loadConfigIn(path, dataDir string) (*config.Config, error) {
	var cfg *config.Config
	var err error
	check := connectors.Global.ValidateIn(dataDir)
	if path == "" {
		cfg, err = config.Quickstart(check)
	} else {
		cfg, err = config.LoadWith(path, check)
	}
	if err != nil {
		return nil, userError(err)
	}
	cfg.DataDir = dataDir
	return cfg, checkAvailable(cfg)
}

func serve(args []string, stderr io.Writer) error {
	fs := newFlagSet("serve", stderr)
	conf := addConfigFlags(fs, "config file (default: the embedded quickstart)")
	dataDir := conf.dataDir
	httpAddr := fs.String("http", "", "listen address, overrides server.http")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the server to this file until it stops (for go tool pprof)")
	if err := fs.Parse(args); err != nil {
		return &exitError{2, err}
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return userError(fmt.Errorf("--cpuprofile: %w", err))
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return userError(fmt.Errorf("--cpuprofile: %w", err))
		}
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}
	if fs.NArg() > 0 {
		return usageError("serve: unexpected argument %q", fs.Arg(0))
	}
	cfg, err := conf.load()
	if err != nil {
		return err
	}
	if *httpAddr != "" {
		if _, _, err := net.SplitHostPort(*httpAddr); err != nil {
			return usageError("--http %q: %v", *httpAddr, err)
		}
		cfg.Server.HTTP = *httpAddr
	}
	if !config.IsLoopback(cfg.Server.HTTP) && !hasRealTokens(cfg) {
		return userError(fmt.Errorf("refusing to listen on %q with demo tokens (or no tokens); set real tokens in server.tokens, or listen on 127.0.0.1", cfg.Server.HTTP))
	}
	if err := checkExposure(cfg, cfg.Server.HTTP); err != nil {
		return err
	}
	if err := os.MkdirAll(*dataDir, 0o750); err != nil {
		return userError(fmt.Errorf("--data %s: %w", *dataDir, err))
	}
	lock, err := lockDataDir(*dataDir)
	if err != nil {
		return userError(err)
	}
	defer lock.release()
	cfg.ResolvePaths(*dataDir)
	storage := map[string]string{}
	if cfg.Store.Driver == "sqlite" {
		storage["store.path"] = cfg.Store.Path
	}
	if cfg.Bus.Embedded != nil && *cfg.Bus.Embedded && cfg.Bus.URL == "" {
		storage["bus.dir"] = cfg.Bus.Dir
	}
	locks, err := lockStorage(storage)
	if err != nil {
		return userError(err)
	}
	defer releaseAll(locks)

	log, err := logging.New(os.Stderr, cfg.Server.Log.Format, cfg.Server.Log.Level)
	if err != nil {
		return userError(err)
	}
	slog.SetDefault(log)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	st, err := openStack(ctx, cfg, log, reg)
	if err != nil {
		return err
	}
	defer func() {
		closeCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := st.close(closeCtx); err != nil {
			log.Warn("shutdown", "err", err)
		}
	}()
	handler := st.api
	if err := st.start(ctx); err != nil {
		return err
	}

	ln, err := net.Listen("tcp", cfg.Server.HTTP)
	if err != nil {
		return userError(fmt.Errorf("server.http %q: %w", cfg.Server.HTTP, err))
	}
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	srv.RegisterOnShutdown(handler.CloseStreams)
	srv.RegisterOnShutdown(st.console.Close)
	log.Info("gongdan serving", "version", version, "http", "http://"+ln.Addr().String(),
		"store", cfg.Store.Driver, "data", absPath(*dataDir), "config", configName(cfg))

	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	select {
	case err := <-serveErr:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down: finishing requests in flight")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Warn("shutdown", "err", err)
	}
	return nil
}

func openStore(ctx context.Context, cfg *config.Config) (*sqlite.Store, error) {
	switch cfg.Store.Driver {
	case "sqlite":
		if err := os.MkdirAll(filepath.Dir(cfg.Store.Path), 0o750); err != nil {
			return nil, userError(fmt.Errorf("store.path %s: %w", cfg.Store.Path, err))
		}
		st, err := sqlite.Open(ctx, cfg.Store.Path)
		if err != nil {
			return nil, userError(fmt.Errorf("store.path: %w", err))
		}
		return st, nil
	default: // refused by loadConfig
		return nil, fmt.Errorf("store.driver %q: no store for it", cfg.Store.Driver)
	}
}

// checkAvailable refuses what the config format allows but this version cannot run yet, so
// that validate and serve agree.
func checkAvailable(cfg *config.Config) error {
	if cfg.Store.Driver != "sqlite" {
		return userError(fmt.Errorf("%s: store.driver: %s is not available in this version of gongdan yet; use sqlite", configName(cfg), cfg.Store.Driver))
	}
	if cfg.Bus.Driver == "memory" {
		return userError(fmt.Errorf("%s: bus.driver: memory keeps nothing across a restart, so sources would be acked for input that can be lost; it is for tests only. Use nats (embedded: true needs nothing else)", configName(cfg)))
	}
	return checkReferences(cfg)
}

// checkReferences checks the keys by which a connector names another: a WeChat callback's
// screenshots_to must name an ocr connector of the config, trust.threads_of other connectors.
func checkReferences(cfg *config.Config) error {
	if err := checkThreadsOf(cfg); err != nil {
		return err
	}
	var ocrs []string
	byName := map[string]string{}
	for _, c := range cfg.Connectors {
		byName[c.Name] = c.Type
		if c.Type == ocr.TypeOCR {
			ocrs = append(ocrs, c.Name)
		}
	}
	for _, c := range cfg.Connectors {
		if c.Raw == nil || c.Raw.Kind != yaml.MappingNode {
			continue
		}
		for i := 0; i+1 < len(c.Raw.Content); i += 2 {
			k, v := c.Raw.Content[i], c.Raw.Content[i+1]
			if k.Value != "screenshots_to" || v.Value == "" || byName[v.Value] == ocr.TypeOCR {
				continue
			}
			have := "there is none"
			if len(ocrs) > 0 {
				have = "ocr connectors: " + strings.Join(ocrs, ", ")
			}
			return userError(fmt.Errorf("%s:%d: %s.screenshots_to: no ocr connector named %q (%s)", configName(cfg), v.Line, c.Path, v.Value, have))
		}
	}
	return nil
}

func hasRealTokens(cfg *config.Config) bool {
	if len(cfg.Server.Tokens) == 0 {
		return false
	}
	for _, t := range cfg.Server.Tokens {
		if t.Demo {
			return false
		}
	}
	return true
}

func absPath(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}

func configName(cfg *config.Config) string {
	if cfg.File == "" {
		return "quickstart (embedded)"
	}
	return cfg.File
}

func validate(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("validate", stderr)
	conf := addConfigFlags(fs, "config file to check (default: the embedded quickstart)")
	if err := fs.Parse(args); err != nil {
		return &exitError{2, err}
	}
	if fs.NArg() > 0 {
		return usageError("validate: unexpected argument %q", fs.Arg(0))
	}
	cfg, err := conf.load()
	if err != nil {
		return err
	}
	// As serve would refuse it, with the address the config gives (serve --http may differ).
	if err := checkExposure(cfg, cfg.Server.HTTP); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: ok\n", configName(cfg))
	return nil
}
