// Package logs is where an app's output goes: size-bounded files the
// daemon writes, fed from spool files in RAM that the app writes.
//
// An app's stdout and stderr are regular files in the runtime directory
// (tmpfs): <runtime>/logs/<name>.out and .err, opened O_APPEND into the
// app. A file never blocks a writer and never raises SIGPIPE, so the app
// runs on unchanged whether the daemon is alive or not. The daemon drains
// each spool as soon as inotify says it grew (one watch on the spool
// directory; nothing happens while apps are silent), splits the data into
// lines, stamps them when the app asks for timestamps, appends them to the
// app's log files under OPM_HOME/logs (or its out_file, error_file and
// log_file) and frees what it has read by punching a hole in the spool
// (FALLOC_FL_PUNCH_HOLE): the spool stays a few pages of RAM at most. A
// daemon started after a SIGKILL finds the first unread byte with
// SEEK_DATA and goes on from there: nothing the app wrote meanwhile is
// lost, and an unfinished line stays in the spool until its newline
// comes. Punching a hole counts as a modification for inotify: each drain
// that frees pages is followed by one more event, which finds nothing to
// read. Wake-ups therefore come only while apps write.
//
// Log files rotate by size (File): the full file is renamed to a backup
// named as lumberjack names them (web-out-2026-11-27T10-00-00.000.log),
// a new one is started, and one goroutine for the whole daemon (the mill)
// gzips backups when asked and removes the oldest beyond the retention.
// Files are opened without following symlinks and must be the user's own
// (shm.OpenOwned). A write that fails (disk full) drops its lines, counts
// them (Stats) and says so in the daemon log once per failing spell.
package logs
