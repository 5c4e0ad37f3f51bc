// Package monit is `opm monit`: a terminal dashboard of the apps (CPU and
// memory sparklines, status, restarts, uptime), the selected app's log
// tail, and keys that restart, stop, start or reload it.
//
// It asks its Source, once an interval and after each key that changes
// what it shows, only while it is open: the daemon does nothing for it
// between two requests. It draws with plain ANSI sequences on the
// alternate screen, in raw mode (golang.org/x/sys/unix termios), and
// gives the terminal back as it was when it ends.
//
// It uses no TUI library: tcell weighs ~450 KB in a release binary,
// bubbletea ~580 KB and tview ~1.1 MB, against ~80 KB for this package
// and `opm monit` together (opm's binaries must stay within 10 MiB).
//
// Files:
//   - monit.go: the model, the loop (refresh, keys, actions), Source.
//   - draw.go: the frame: layout, app lines, sparklines, the log pane.
//   - keys.go: decoding what the terminal sends into keys.
//   - term.go: raw mode and the alternate screen, and giving them back.
package monit
