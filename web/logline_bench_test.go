package web

import (
	"context"
	"log/slog"
	"testing"
	"time"
)

// BenchmarkAccessLogLine is one access-log line as observeRequests logs
// it: a record, the redaction, the line written into a buffer.
func BenchmarkAccessLogLine(b *testing.B) {
	for _, format := range []string{"text", "json"} {
		b.Run(format, func(b *testing.B) {
			h := RedactingHandler(newLineHandler(discardWriter{}, format == "json", slog.LevelInfo))
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				r := slog.NewRecord(time.Now(), slog.LevelInfo, "request", 0)
				r.AddAttrs(slog.String("method", "GET"), slog.String("path", "/api/v1/token"), slog.Int("status", 200),
					slog.Duration("took", 41234*time.Nanosecond), slog.String("remote", "10.0.0.7"),
					slog.String("request_id", "f9c2d41ee053a28fd11544c9ce53cb30"))
				h.Handle(ctx, r)
			}
		})
	}
}
