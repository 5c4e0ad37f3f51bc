package main

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestDiffSnapshots(t *testing.T) {
	before := dirSnapshot{
		"same":      {Size: 10, Ino: 1, Mtime: 100},
		"grown":     {Size: 10, Ino: 2, Mtime: 100},
		"replaced":  {Size: 50, Ino: 3, Mtime: 100},
		"rewritten": {Size: 40, Ino: 4, Mtime: 100},
		"shrunk":    {Size: 40, Ino: 5, Mtime: 100},
		"gone":      {Size: 7, Ino: 6, Mtime: 100},
	}
	after := dirSnapshot{
		"same":      {Size: 10, Ino: 1, Mtime: 100},
		"grown":     {Size: 73, Ino: 2, Mtime: 200},
		"replaced":  {Size: 20, Ino: 9, Mtime: 200},
		"rewritten": {Size: 40, Ino: 4, Mtime: 200},
		"shrunk":    {Size: 5, Ino: 5, Mtime: 200},
		"logs/new":  {Size: 12, Ino: 10, Mtime: 200},
	}
	got := diffSnapshots(before, after)
	want := []fileChange{
		{"gone", "removed", 0},
		{"grown", "appended", 63},
		{"logs/new", "new", 12},
		{"replaced", "replaced", 20},
		{"rewritten", "rewritten", 40},
		{"shrunk", "rewritten", 5},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v\nwant %v", got, want)
	}
	if b := changedBytes(got); b != 63+12+20+40+5 {
		t.Fatalf("bytes %d", b)
	}
	if d := diffSnapshots(before, before); len(d) != 0 {
		t.Fatalf("no change: %v", d)
	}
}

// TestSnapshotDir lists a real directory, changes it the ways a daemon
// does (append, replace by rename, create) and checks the accounting.
func TestSnapshotDir(t *testing.T) {
	root := t.TempDir()
	write := func(name, data string) {
		t.Helper()
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("logs/daemon.log", "one line\n")
	write("dump.json", "[1,2,3]")
	write("config.toml", "x = 1\n")
	before, err := snapshotDir(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(before) != 3 || before["logs/daemon.log"].Size != 9 {
		t.Fatalf("before: %v", before)
	}
	f, err := os.OpenFile(filepath.Join(root, "logs/daemon.log"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("another line\n"); err != nil {
		t.Fatal(err)
	}
	f.Close()
	write("dump.json.tmp", "[1,2]")
	if err := os.Rename(filepath.Join(root, "dump.json.tmp"), filepath.Join(root, "dump.json")); err != nil {
		t.Fatal(err)
	}
	write("state/new", "abcd")
	after, err := snapshotDir(root)
	if err != nil {
		t.Fatal(err)
	}
	got := diffSnapshots(before, after)
	want := []fileChange{
		{"dump.json", "replaced", 5},
		{"logs/daemon.log", "appended", 13},
		{"state/new", "new", 4},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v\nwant %v", got, want)
	}
}
