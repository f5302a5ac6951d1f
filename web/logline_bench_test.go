package web

import (
	"context"
	"log/slog"
	"testing"
	"time"
)

// BenchmarkAccessLogLine is one access-log line as the server logs it
// (direct: LogOutput's line handler writing the line itself) and as it
// would through a slog record and the redacting handler (record).
func BenchmarkAccessLogLine(b *testing.B) {
	for _, format := range []string{"text", "json"} {
		h := newLineHandler(discardWriter{}, format == "json", slog.LevelInfo)
		for _, way := range []struct {
			name string
			rl   requestLogger
		}{{"direct", requestLoggerFor(RedactingHandler(h))}, {"record", slogRequests{RedactingHandler(h)}}} {
			b.Run(format+"/"+way.name, func(b *testing.B) {
				ctx := context.Background()
				b.ReportAllocs()
				for b.Loop() {
					way.rl.writeRequest(ctx, requestLine{at: time.Now(), method: "GET", path: "/api/v1/token", status: 200,
						took: 41234 * time.Nanosecond, remote: "10.0.0.7", id: "f9c2d41e-e053-4a28-9d11-544c9ce53cb3"})
				}
			})
		}
	}
}
