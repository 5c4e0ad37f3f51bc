package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// installPM2 makes PM2 available under prefix (bench/.pm2 by default),
// installing it with npm when it is not there yet: never globally. It
// returns the tool and "pm2 X.Y.Z, node vN".
func installPM2(ctx context.Context, prefix string) (*pm2Tool, string, error) {
	node, err := exec.LookPath("node")
	if err != nil {
		return nil, "", fmt.Errorf("node is not installed: %w", err)
	}
	prefix, err = filepath.Abs(prefix)
	if err != nil {
		return nil, "", err
	}
	bin := filepath.Join(prefix, "node_modules", ".bin", "pm2")
	if _, err := os.Stat(bin); errors.Is(err, os.ErrNotExist) {
		if _, err := exec.LookPath("npm"); err != nil {
			return nil, "", fmt.Errorf("npm is not installed: %w", err)
		}
		fmt.Fprintf(os.Stderr, "bench: installing PM2 into %s (npm install --prefix)\n", prefix)
		ictx, cancel := context.WithTimeout(ctx, 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ictx, "npm", "install", "--prefix", prefix, "--no-audit", "--no-fund", "pm2")
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			return nil, "", fmt.Errorf("npm install pm2 (is the npm registry reachable?): %w", err)
		}
	} else if err != nil {
		return nil, "", err
	}
	var pkg struct {
		Version string `json:"version"`
	}
	b, err := os.ReadFile(filepath.Join(prefix, "node_modules", "pm2", "package.json"))
	if err == nil {
		err = json.Unmarshal(b, &pkg)
	}
	if err != nil {
		return nil, "", fmt.Errorf("read PM2's version: %w", err)
	}
	nv, err := exec.CommandContext(ctx, node, "--version").Output()
	if err != nil {
		return nil, "", fmt.Errorf("node --version: %w", err)
	}
	return &pm2Tool{bin: bin, prefix: prefix}, fmt.Sprintf("pm2 %s, node %s", pkg.Version, strings.TrimSpace(string(nv))), nil
}

// installLogrotatePackage makes pm2-logrotate available under prefix,
// installing it with npm when it is not there yet (never globally), and
// returns its directory.
func installLogrotatePackage(ctx context.Context, prefix string) (string, error) {
	dir := filepath.Join(prefix, "node_modules", logrotateName)
	_, err := os.Stat(filepath.Join(dir, "package.json"))
	if err == nil {
		return dir, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	fmt.Fprintf(os.Stderr, "bench: installing %s into %s (npm install --prefix)\n", logrotateName, prefix)
	ictx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ictx, "npm", "install", "--prefix", prefix, "--no-audit", "--no-fund", logrotateName)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("npm install %s (is the npm registry reachable?): %w", logrotateName, err)
	}
	return dir, nil
}
