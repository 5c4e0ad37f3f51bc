package shm

import (
	"encoding/binary"
	"fmt"
	"time"

	"golang.org/x/sys/unix"
)

// The page layout. All fields are host-endian: the page never leaves this
// machine. The owner word is 8-byte aligned (mmap returns page-aligned
// memory) so that 64-bit atomics on it are valid.
//
//	offset size  field
//	0      8     magic "OPMFLAG\x00"
//	8      4     layout version
//	12     4     page size (4096)
//	16     8     owner word: 0 when idle, else generation<<32 | pid (atomic)
//	24     4     generation counter (atomic)
//	28     4     reserved
//	32     8     owner word the display fields below belong to (atomic)
//	40     8     owner pid (display)
//	48     8     owner start time, clock ticks since boot (display)
//	56     8     owner word the acquisition time belongs to (atomic)
//	64     8     acquisition time, CLOCK_BOOTTIME nanoseconds (display)
//	72...        zero
//
// The acquisition time has its own tag so that an older opm, which fills
// in the fields up to 56 only, never lends its owner a stale time: pages
// of either kind stay readable, and the layout version stays 1.
const (
	PageSize = 4096
	Version  = 1

	offMagic    = 0
	offVersion  = 8
	offSize     = 12
	offWord     = 16
	offGen      = 24
	offInfoWord = 32
	offInfoPID  = 40
	offInfoStat = 48
	offTimeWord = 56
	offHeldAt   = 64
)

var magic = [8]byte{'O', 'P', 'M', 'F', 'L', 'A', 'G', 0}

// header is the fixed part of the page that identifies it.
type header struct {
	Magic   [8]byte
	Version uint32
	Size    uint32
}

// decodeHeader reads and checks the header of a page. It never panics,
// whatever b holds; any problem is returned as an error that says what is
// wrong with the page.
func decodeHeader(b []byte) (header, error) {
	var h header
	if len(b) != PageSize {
		return h, fmt.Errorf("page is %d bytes, want %d", len(b), PageSize)
	}
	copy(h.Magic[:], b[offMagic:offMagic+8])
	h.Version = binary.NativeEndian.Uint32(b[offVersion:])
	h.Size = binary.NativeEndian.Uint32(b[offSize:])
	if h.Magic != magic {
		return h, fmt.Errorf("bad magic %q", h.Magic[:])
	}
	if h.Version != Version {
		return h, fmt.Errorf("layout version %d, this opm understands %d", h.Version, Version)
	}
	if h.Size != PageSize {
		return h, fmt.Errorf("header page size %d, want %d", h.Size, PageSize)
	}
	return h, nil
}

// newPage returns the bytes of a fresh, idle page.
func newPage() []byte {
	b := make([]byte, PageSize)
	copy(b[offMagic:], magic[:])
	binary.NativeEndian.PutUint32(b[offVersion:], Version)
	binary.NativeEndian.PutUint32(b[offSize:], PageSize)
	return b
}

// word packs an owner into the owner word.
func word(gen uint32, pid int) uint64 { return uint64(gen)<<32 | uint64(uint32(pid)) }

// Owner names who holds (or held) the flag.
type Owner struct {
	PID int `json:"pid"`
	// Start is the owner's start time in clock ticks since boot; 0 when the
	// owner died before recording it.
	Start uint64 `json:"start,omitempty"`
	Gen   uint32 `json:"generation"`
	// HeldSince is when the owner took the flag; zero when it did not
	// record it.
	HeldSince time.Time `json:"held_since,omitzero"`
	// Word is the raw owner word; 0 means idle.
	Word uint64 `json:"-"`
}

func ownerOf(w uint64) Owner {
	return Owner{PID: int(uint32(w)), Gen: uint32(w >> 32), Word: w}
}

func (o Owner) String() string {
	if o.Word == 0 {
		return "nobody"
	}
	return fmt.Sprintf("pid %d (generation %d)", o.PID, o.Gen)
}

// bootNanos is CLOCK_BOOTTIME in nanoseconds: the same for every process,
// and, unlike the wall clock, never set back or forth. 0 if unknown.
func bootNanos() uint64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts); err != nil {
		return 0
	}
	return uint64(ts.Nano())
}

// wallTime turns a CLOCK_BOOTTIME reading into the wall-clock time it was.
func wallTime(boot uint64) time.Time {
	if boot == 0 {
		return time.Time{}
	}
	now := bootNanos()
	if now == 0 || boot > now {
		return time.Time{}
	}
	return time.Now().Add(-time.Duration(now - boot))
}
