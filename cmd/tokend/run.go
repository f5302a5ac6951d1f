package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"tokend/store"
)

const usage = `tokend: access tokens for an organization's integrations

Usage:
  tokend serve [--db DB] [--addr HOST:PORT] [--demo] [--access-log=false]
               [--trusted-proxies CIDR,...] [--metrics-addr HOST:PORT]
               [--log-format text|json] [--log-level debug|info|warn|error]
  tokend user add --org NAME --email EMAIL --name NAME --role ROLE[,ROLE] [--db DB]
  tokend user remove --email EMAIL [--db DB]
  tokend user passwd --email EMAIL [--db DB]
  tokend user list [--org NAME] [--db DB]
  tokend db migrate [--db DB]
  tokend db copy --from FILE --to postgres://...

DB is a SQLite file (created if missing) or a PostgreSQL URL
(postgres://user:password@host:5432/name; libpq's PG* variables fill in
what it leaves out).

Environment:
  TOKEND_DB            the database (default tokend.db)
  TOKEND_ADDR          address to serve on (default 127.0.0.1:8080)
  TOKEND_SESSION_KEY   secret for session cookies, at least 32 bytes, the same on
                       every instance; without it (or TOKEND_SESSION_KEY_FILE, a
                       file holding it) one is made once and kept in the database
  TOKEND_ACCESS_LOG    false: no log line per request
  TOKEND_TRUSTED_PROXIES  CIDRs of proxies whose X-Forwarded-For (and X-Request-Id)
                       tokend takes
  TOKEND_METRICS_ADDR  address to serve Prometheus metrics on (/metrics); none unless set
  TOKEND_LOG_FORMAT    text (default) or json
  TOKEND_LOG_LEVEL     debug, info (default), warn or error
  TOKEND_PASSWORD      password for 'user add' and 'user passwd'; without it, read
                       from standard input

Roles: owner, admin, video, viewer, billing, support.
`

// dbFlag is the --db flag every command takes: a SQLite file or a
// PostgreSQL URL, TOKEND_DB by default.
func dbFlag(fs *flag.FlagSet, getenv env) *string {
	return fs.String("db", orDefault(getenv, "TOKEND_DB", "tokend.db"),
		"database: a SQLite `file` (created if missing) or a postgres:// URL")
}

// openStore opens the database. Tests replace it to lower the bcrypt cost,
// which under the race detector takes seconds per password.
var openStore = store.Open

// env looks up an environment variable, as os.Getenv does.
type env func(string) string

// run is the whole program: main only wires it to the process.
func run(ctx context.Context, args []string, getenv env, stdin io.Reader, stdout, stderr io.Writer) error {
	err := runCommand(ctx, args, getenv, stdin, stdout, stderr)
	if errors.Is(err, flag.ErrHelp) {
		// A subcommand's -h printed its flags, as asked: not a failure.
		return nil
	}
	return err
}

func runCommand(ctx context.Context, args []string, getenv env, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command given")
	}
	switch cmd, rest := args[0], args[1:]; cmd {
	case "serve":
		return serve(ctx, rest, getenv, stdout, stderr)
	case "user":
		if len(rest) == 0 {
			fmt.Fprint(stderr, usage)
			return errors.New("user: say add, remove or list")
		}
		switch sub, rest := rest[0], rest[1:]; sub {
		case "add":
			return userAdd(ctx, rest, getenv, stdin, stdout, stderr)
		case "remove":
			return userRemove(ctx, rest, getenv, stdout, stderr)
		case "passwd":
			return userPasswd(ctx, rest, getenv, stdin, stdout, stderr)
		case "list":
			return userList(ctx, rest, getenv, stdout, stderr)
		default:
			return fmt.Errorf("user %s: unknown command; say add, remove or list", sub)
		}
	case "db":
		return dbCommand(ctx, rest, getenv, stdout, stderr)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %q", cmd)
	}
}

// newFlags makes a flag set that reports errors as returned errors, not by
// exiting, and prints its usage to stderr.
func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%s: %w", fs.Name(), err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%s: unexpected argument %q", fs.Name(), fs.Arg(0))
	}
	return nil
}

// orDefault returns the environment's value for key, else def.
func orDefault(getenv env, key, def string) string {
	if v := strings.TrimSpace(getenv(key)); v != "" {
		return v
	}
	return def
}

// listFlag is a flag that may be given more than once.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }
