package load

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/valyala/fasthttp"
)

// ServeNoop answers every request with 200 and an empty body on ln until
// ctx ends. It is the calibration target: against it, loadgen and wrk
// measure themselves rather than a server.
func ServeNoop(ctx context.Context, ln net.Listener) error {
	return ServeUntil(ctx, ln, &fasthttp.Server{
		Handler:                       func(*fasthttp.RequestCtx) {},
		Name:                          "noop",
		NoDefaultDate:                 true,
		NoDefaultContentType:          true,
		ReadTimeout:                   time.Minute,
		IdleTimeout:                   time.Minute,
		DisableHeaderNamesNormalizing: true,
	})
}

// ServeUntil serves s on ln until ctx ends, for the suite's baseline
// servers (no-op and naive). A ctx that ends is a clean stop, not an error.
func ServeUntil(ctx context.Context, ln net.Listener, s *fasthttp.Server) error {
	errc := make(chan error, 1)
	go func() { errc <- s.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("%s server: %w", s.Name, err)
	case <-ctx.Done():
		// Shutdown closes ln and waits for open connections to go idle,
		// bounded so that a client that never hangs up cannot hold it.
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.ShutdownWithContext(sctx)
		<-errc
		return nil
	}
}
