package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"golang.org/x/term"

	"tokend/store"
)

func userAdd(ctx context.Context, args []string, getenv env, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("user add", stderr)
	dbPath := dbFlag(fs, getenv)
	org := fs.String("org", "", "organization `name`; created on first use")
	email := fs.String("email", "", "the member's email, used to sign in")
	name := fs.String("name", "", "the member's name as others see it")
	var roles listFlag
	fs.Var(&roles, "role", "a `role`; repeat the flag or separate roles with commas")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	rs, err := store.ParseRoles(roles...)
	if err != nil {
		return fmt.Errorf("user add: %s", store.ErrorMessage(err))
	}
	// Checked here, before a password is asked for or a database made, and
	// named as the flag to give.
	for _, f := range []struct{ flag, value string }{{"org", *org}, {"email", *email}, {"name", *name}} {
		if strings.TrimSpace(f.value) == "" {
			return fmt.Errorf("user add: --%s is required", f.flag)
		}
	}
	if len(rs) == 0 {
		return errors.New("user add: --role is required")
	}
	password := getenv("TOKEND_PASSWORD")
	if password == "" {
		if password, err = readPassword(stdin, stderr); err != nil {
			return fmt.Errorf("user add: %w", err)
		}
	}

	if err := store.ValidatePassword(password); err != nil {
		return fmt.Errorf("user add: %s", store.ErrorMessage(err))
	}

	db, err := openStore(ctx, *dbPath)
	if err != nil {
		return err
	}
	defer db.Close()
	m, err := db.CreateMember(ctx, store.NewMember{OrgName: *org, Email: *email, Name: *name, Password: password, Roles: rs})
	if err != nil {
		return fmt.Errorf("user add: %s", store.ErrorMessage(err))
	}
	fmt.Fprintf(stdout, "added %s <%s> to %s as %s\n", m.Name, m.Email, m.OrgName, strings.Join(store.RoleTitles(m.Roles), ", "))
	return nil
}

// readPassword reads one line: without echo from a terminal, as it is from
// a pipe.
func readPassword(stdin io.Reader, stderr io.Writer) (string, error) {
	if f, ok := stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(stderr, "Password: ")
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(stderr)
		return string(b), err
	}
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	return strings.TrimRight(line, "\r\n"), nil
}

func userRemove(ctx context.Context, args []string, getenv env, stdout, stderr io.Writer) error {
	fs := newFlags("user remove", stderr)
	dbPath := dbFlag(fs, getenv)
	email := fs.String("email", "", "the member's email")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if strings.TrimSpace(*email) == "" {
		return errors.New("user remove: --email is required")
	}
	db, err := openStore(ctx, *dbPath)
	if err != nil {
		return err
	}
	defer db.Close()
	m, err := db.RemoveMember(ctx, *email)
	if err != nil {
		return fmt.Errorf("user remove: %s", store.ErrorMessage(err))
	}
	fmt.Fprintf(stdout, "removed %s <%s> from %s; their personal tokens no longer work\n", m.Name, m.Email, m.OrgName)
	return nil
}

func userList(ctx context.Context, args []string, getenv env, stdout, stderr io.Writer) error {
	fs := newFlags("user list", stderr)
	dbPath := dbFlag(fs, getenv)
	org := fs.String("org", "", "only this organization")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	db, err := openStore(ctx, *dbPath)
	if err != nil {
		return err
	}
	defer db.Close()
	ms, err := db.Members(ctx, *org)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ORGANIZATION\tEMAIL\tNAME\tROLES\tSTATUS")
	for _, m := range ms {
		status := "member"
		if !m.LeftAt.IsZero() {
			status = "left " + m.LeftAt.Format("2006-01-02")
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", m.OrgName, m.Email, m.Name, strings.Join(store.RoleTitles(m.Roles), ", "), status)
	}
	return w.Flush()
}

func userPasswd(ctx context.Context, args []string, getenv env, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlags("user passwd", stderr)
	dbPath := dbFlag(fs, getenv)
	email := fs.String("email", "", "the member's email")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if strings.TrimSpace(*email) == "" {
		return errors.New("user passwd: --email is required")
	}
	password := getenv("TOKEND_PASSWORD")
	if password == "" {
		var err error
		if password, err = readPassword(stdin, stderr); err != nil {
			return fmt.Errorf("user passwd: %w", err)
		}
	}
	if err := store.ValidatePassword(password); err != nil {
		return fmt.Errorf("user passwd: %s", store.ErrorMessage(err))
	}
	db, err := openStore(ctx, *dbPath)
	if err != nil {
		return err
	}
	defer db.Close()
	m, err := db.SetPassword(ctx, *email, password)
	if err != nil {
		return fmt.Errorf("user passwd: %s", store.ErrorMessage(err))
	}
	fmt.Fprintf(stdout, "set a new password for %s <%s>; their browsers are signed out\n", m.Name, m.Email)
	return nil
}
