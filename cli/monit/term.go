package monit

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// terminal is the terminal the dashboard draws on: raw input, the
// alternate screen, the cursor hidden; restore gives it back as it was.
type terminal struct {
	in, out *os.File
	saved   *unix.Termios
}

// errNotTerminal says that the dashboard has no terminal to draw on.
var errNotTerminal = errors.New("opm monit needs a terminal: its input and output must be one (use 'opm list' or 'opm logs' otherwise)")

// IsTerminal reports whether f is a terminal.
func IsTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// CheckTerminal says, before anything else is done, when in or out is
// not a terminal the dashboard can draw on.
func CheckTerminal(in, out *os.File) error {
	if !IsTerminal(in) || !IsTerminal(out) {
		return errNotTerminal
	}
	return nil
}

// openTerminal puts in into raw mode (keys come one at a time, Ctrl-C
// among them, nothing echoed) and out onto the alternate screen.
func openTerminal(in, out *os.File) (*terminal, error) {
	if err := CheckTerminal(in, out); err != nil {
		return nil, err
	}
	fd := int(in.Fd())
	saved, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return nil, err
	}
	raw := *saved
	// As cfmakeraw(3), but output processing stays: the dashboard
	// positions every line itself.
	raw.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	raw.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	raw.Cflag &^= unix.CSIZE | unix.PARENB
	raw.Cflag |= unix.CS8
	raw.Cc[unix.VMIN] = 1
	raw.Cc[unix.VTIME] = 0
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, &raw); err != nil {
		return nil, err
	}
	t := &terminal{in: in, out: out, saved: saved}
	// The alternate screen, cleared; the cursor hidden.
	if _, err := out.WriteString("\x1b[?1049h\x1b[?25l\x1b[H\x1b[2J"); err != nil {
		t.restore()
		return nil, err
	}
	return t, nil
}

// size is the terminal's width and height in cells.
func (t *terminal) size() (int, int) {
	ws, err := unix.IoctlGetWinsize(int(t.out.Fd()), unix.TIOCGWINSZ)
	if err != nil {
		return 0, 0
	}
	return int(ws.Col), int(ws.Row)
}

// restore shows the cursor, leaves the alternate screen (the shell's
// screen comes back as it was) and sets the terminal's modes back.
func (t *terminal) restore() {
	_, _ = t.out.WriteString("\x1b[0m\x1b[?25h\x1b[?1049l")
	_ = unix.IoctlSetTermios(int(t.in.Fd()), unix.TCSETS, t.saved)
}
