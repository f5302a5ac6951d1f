package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// baseline is the running echo-baseline program: Echo v4 with one route,
// GET /hello, and no middleware, the ceiling tokend's routes are measured
// against (../shared/bench/README.md).
type baseline struct {
	cmd    *exec.Cmd
	base   string
	exited chan struct{}
}

// baselineDir is where the baseline's source is: the -baseline flag, else
// shared/bench/echo-baseline beside the repository (in CI a copy of shared/
// sits beside the clone), found from the repository's root so that it does
// not matter where loadtest runs from inside it.
func baselineDir(flagValue string) string {
	if flagValue != "" {
		return flagValue
	}
	root, err := repoRoot()
	if err != nil {
		root = "."
	}
	return filepath.Join(root, "..", "shared", "bench", "echo-baseline")
}

// repoRoot is the nearest directory from the working directory up that
// holds tokend's go.mod.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if isTokendModule(filepath.Join(dir, "go.mod")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod of module tokend above the working directory")
		}
		dir = parent
	}
}

func isTokendModule(goMod string) bool {
	f, err := os.Open(goMod)
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if fields := strings.Fields(sc.Text()); len(fields) == 2 && fields[0] == "module" {
			return fields[1] == "tokend"
		}
	}
	return false
}

// startBaseline builds the baseline from its source into tmp and starts it
// on a free loopback port. Without it, it says why, and the run goes on
// without ratios.
func startBaseline(ctx context.Context, dirFlag, tmp string) (*baseline, string) {
	dir := baselineDir(dirFlag)
	abs, err := filepath.Abs(dir)
	if err == nil {
		dir = abs
	}
	if _, err := os.Stat(filepath.Join(dir, "main.go")); err != nil {
		return nil, fmt.Sprintf("no baseline source at %s (%v)", dir, err)
	}
	bin := filepath.Join(tmp, "echo-baseline")
	if err := buildBaseline(ctx, dir, bin); err != nil {
		return nil, fmt.Sprintf("the baseline in %s could not be built: %v", dir, err)
	}

	// A free port: taken, noted and let go just before the program takes it.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err.Error()
	}
	addr := ln.Addr().String()
	ln.Close()
	logFile, err := os.Create(filepath.Join(tmp, "echo-baseline.log"))
	if err != nil {
		return nil, err.Error()
	}
	defer logFile.Close()
	cmd := exec.Command(bin, addr)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	dieWithUs(cmd)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Sprintf("start %s: %v", bin, err)
	}
	b := &baseline{cmd: cmd, base: "http://" + addr, exited: make(chan struct{})}
	go func() {
		cmd.Wait()
		close(b.exited)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		res, err := http.Get(b.base + "/hello")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return b, ""
			}
		}
		select {
		case <-b.exited:
			out, _ := os.ReadFile(logFile.Name())
			return nil, fmt.Sprintf("the baseline exited: %s", strings.TrimSpace(string(out)))
		case <-ctx.Done():
			b.stop()
			return nil, ctx.Err().Error()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			b.stop()
			return nil, fmt.Sprintf("the baseline did not answer GET %s/hello within 10s (last: %v)", b.base, err)
		}
	}
}

// buildBaseline builds the baseline, its own module, as its README says:
// go build in its directory. If that fails (a go.sum the go command wants
// to complete, say), it tries once more with GOFLAGS=-mod=mod; the module
// cache or the module proxy has to hold its dependencies.
func buildBaseline(ctx context.Context, dir, bin string) error {
	goCmd, err := exec.LookPath("go")
	if err != nil {
		return fmt.Errorf("no go command on PATH: %w", err)
	}
	build := func(extraFlags string) error {
		cmd := exec.CommandContext(ctx, goCmd, "build", "-o", bin, ".")
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOWORK=off")
		if extraFlags != "" {
			cmd.Env = append(cmd.Env, "GOFLAGS="+strings.TrimSpace(os.Getenv("GOFLAGS")+" "+extraFlags))
		}
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("%w: %s", err, strings.TrimSpace(string(out)))
		}
		return nil
	}
	err = build("")
	if err == nil {
		return nil
	}
	if err2 := build("-mod=mod"); err2 != nil {
		return fmt.Errorf("go build: %v; with GOFLAGS=-mod=mod: %v", err, err2)
	}
	return nil
}

func (b *baseline) stop() {
	select {
	case <-b.exited:
		return
	default:
	}
	b.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-b.exited:
	case <-time.After(5 * time.Second):
		b.cmd.Process.Kill()
		<-b.exited
	}
}
