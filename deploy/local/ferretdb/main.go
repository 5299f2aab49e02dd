// Command tongpin-ferretdb runs FerretDB v1.24 embedded, with telemetry disabled and locked.
//
// With -exit-unanswered it also watches itself: FerretDB 1.24 can stop answering every command that needs
// PostgreSQL (its connection pool's connections taken and never given back, after an overload) while still
// answering the driver's heartbeats, so clients wait for ever. It probes itself through its own listener
// (watchdog.go) and, once no probe has been answered for that long, exits with status 3, which
// deploy/local/servers.sh takes as a request to start it again.
//
// `go install github.com/FerretDB/FerretDB/cmd/ferretdb@v1.24.2` builds, but the binary panics at
// start: the module as served by the proxy lacks build/version/version.txt, which FerretDB's own
// main package requires. Its embeddable package skips that check, so this small main wraps it.
package main

import (
	"context"
	"flag"
	"log/slog"
	"net/http"
	_ "net/http/pprof" // served only with -debug-addr
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	listen := flag.String("listen-addr", "127.0.0.1:27017", "TCP address to listen on")
	handler := flag.String("handler", "sqlite", "backend: sqlite or postgresql")
	sqliteURL := flag.String("sqlite-url", "file:data/", "SQLite directory URL")
	postgresqlURL := flag.String("postgresql-url", "", "PostgreSQL URL")
	logLevel := flag.String("log-level", "warn", "debug, info, warn or error")
	debugAddr := flag.String("debug-addr", "", "if set, serve Go's profiler (/debug/pprof/) on this address")
	exitUnanswered := flag.Duration("exit-unanswered", 0,
		"if set, exit with status 3 once probes through the listener have gone unanswered this long")
	flag.Parse()

	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		level = slog.LevelWarn
	}
	logger := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	if *debugAddr != "" {
		go func() {
			logger.Error("debug listener stopped", "error", http.ListenAndServe(*debugAddr, nil))
		}()
	}

	f, err := ferretdb.New(&ferretdb.Config{
		Listener:      ferretdb.ListenerConfig{TCP: *listen},
		Logger:        logger,
		Handler:       *handler,
		SQLiteURL:     *sqliteURL,
		PostgreSQLURL: *postgresqlURL,
	})
	if err != nil {
		logger.Error("start failed", "error", err)
		os.Exit(1)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	logger.Info("listening", "uri", f.MongoDBURI())
	if *exitUnanswered > 0 {
		interval := min(*exitUnanswered/3, 10*time.Second)
		go watch(*listen, interval, *exitUnanswered, logger, func() { os.Exit(3) })
	}
	if err := f.Run(ctx); err != nil {
		logger.Error("run failed", "error", err)
		os.Exit(1)
	}
}
