// Package shm holds opm's RAM-only runtime state: where the runtime
// directory is, and the restore flag — one 4096-byte page mapped by every
// process that takes part in a restore.
//
// The flag answers "is a restore in progress?" with one atomic load (no
// syscall, no allocation), so the daemon may ask it on every loop
// iteration. Ownership is taken with a compare-and-swap of the owner word
// from idle to a value that names the owner (its PID and a generation
// drawn from a counter in the page), and released or cleared with a
// compare-and-swap on the exact value seen, so a stale cleaner can never
// wipe a newer owner's flag.
//
// A page file that shrinks under its mappings (truncated) would make any
// access raise SIGBUS; every access is guarded instead, and the page is
// mapped again — rebuilt when broken — so no reader ever crashes. The
// guard (debug.SetPanicOnFault and a deferred recover) costs about 10 ns
// of the fast path's ~12; the atomic load itself about 1 ns. That is the
// price of never crashing a reader, still with no syscall and no
// allocation, and ~150 times cheaper than stat(2).
//
// Liveness: while it owns the flag, the owner holds an open-file-description
// write lock (F_OFD_SETLK) on the page file. The kernel drops that lock when
// the owner's last descriptor closes — at its death, before it becomes a
// zombie — so a checker that finds the word set and no lock held (one
// F_OFD_GETLK, about a microsecond, which unlike a try-lock never takes the
// lock and so never makes an acquirer fail spuriously) knows the owner is
// gone, whatever its PID has been recycled into. kill(pid, 0) is not used:
// it succeeds on zombies and on recycled PIDs.
//
// It also locates opm's directories and decides whether to trust them
// (trust.go): OPM_HOME, the runtime directory and the files opm opens in
// them are checked on the object — owner, mode, type, no symlink followed —
// never trusted for where they lie; and it keeps the home's secret, from
// which names other users can neither predict nor forge are made. The CLI
// and the daemon find the runtime directory with one function
// (resolve.go), so they agree, also when another user has taken the
// default name and opm falls back.
//
// Where things live:
//
//	flag.go        the Flag: fast path, acquire, release, stale cleanup
//	mapping.go     one mapped page; surviving a page that shrinks (SIGBUS)
//	page.go        the page layout, its header and the owner word
//	open.go        opening, creating and rebuilding the page file
//	proc.go        a process's start time, from /proc
//	dirs.go        OPM_HOME, and creating a private directory
//	resolve.go     where the runtime directory is, and the fallbacks
//	trust.go       trust checks of directories and files, the home's secret
//	token.go       the bearer token of the daemon's TCP listener (opm token)
//
// This package imports nothing else of opm.
package shm
