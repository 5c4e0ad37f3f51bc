package shm

import (
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"sync/atomic"
	"unsafe"

	"github.com/edsrzf/mmap-go"
	"golang.org/x/sys/unix"
)

// A page file that shrinks under a mapping (truncated by its owner, or by
// root) makes any access to the lost part of the mapping raise SIGBUS,
// which would kill the process. Every access to a mapping is therefore
// guarded: the goroutine's panic-on-fault setting is turned on for the
// access (and restored after), the fault is recovered, and the Flag maps
// the page at its path again — rebuilding it when it is broken, as
// OpenFlag does — and carries on. The faulted mapping stays mapped until
// Close, since another goroutine may still be reading it.

// mapping is one mapped page file.
type mapping struct {
	file *os.File    // the page file; nil for a detached page
	mem  mmap.MMap   // the mapping; nil for a detached page
	page []byte      // the 4096 bytes read and written: mem, or private memory
	dev  uint64      // device and inode of the file, to notice a replacement
	ino  uint64      //
	gone atomic.Bool // file closed (a retired mapping)
}

// detached is a private, idle page standing in for the page file while it
// cannot be mapped: readers see no restore in progress instead of
// faulting again; Check and Acquire try to map the file again.
func detached() *mapping {
	words := new([PageSize / 8]uint64) // 8-byte aligned, for the atomics
	return &mapping{page: unsafe.Slice((*byte)(unsafe.Pointer(words)), PageSize)}
}

func (m *mapping) isDetached() bool { return m.file == nil }

func (m *mapping) u64(off int) *uint64 { return (*uint64)(unsafe.Pointer(&m.page[off])) }
func (m *mapping) word() *uint64       { return m.u64(offWord) }
func (m *mapping) gen() *uint32        { return (*uint32)(unsafe.Pointer(&m.page[offGen])) }

// load reads the 64-bit field at off. ok is false when the read faulted:
// the file no longer covers the page. It allocates nothing.
func (m *mapping) load(off int) (v uint64, ok bool) {
	ok = m.try(func() { v = atomic.LoadUint64(m.u64(off)) })
	return v, ok
}

// try runs fn, which accesses m's page, and reports whether it ran
// without a fault. fn may have run in part when it did not.
func (m *mapping) try(fn func()) (ok bool) {
	defer func() {
		if r := recover(); r != nil {
			if !isFault(r) {
				panic(r)
			}
			ok = false
		}
	}()
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	fn()
	return true
}

// isFault tells the panic of a faulting memory access (with
// SetPanicOnFault on) from any other panic.
func isFault(r any) bool {
	e, ok := r.(interface{ Addr() uintptr })
	return ok && e != nil
}

// errRetired is a probe on a mapping another goroutine has just replaced.
var errRetired = errors.New("restore flag page was mapped again meanwhile")

// control runs fn on the page file's descriptor. The descriptor stays
// open while fn runs, even if another goroutine retires the mapping.
func (m *mapping) control(fn func(fd int) error) error {
	if m.isDetached() {
		return errRetired
	}
	raw, err := m.file.SyscallConn()
	if err != nil {
		return errRetired
	}
	var ferr error
	if err := raw.Control(func(fd uintptr) { ferr = fn(int(fd)) }); err != nil {
		return errRetired
	}
	return ferr
}

// lease takes (lock=true) or drops the owner's liveness lease: an
// open-file-description write lock on the whole page file, released by the
// kernel when the owner dies.
func (m *mapping) lease(lock bool) error {
	lk := unix.Flock_t{Type: unix.F_WRLCK, Whence: 0, Start: 0, Len: 0}
	if !lock {
		lk.Type = unix.F_UNLCK
	}
	return m.control(func(fd int) error { return unix.FcntlFlock(uintptr(fd), unix.F_OFD_SETLK, &lk) })
}

// leaseHeld reports whether any open file description holds the lease.
func (m *mapping) leaseHeld() (bool, error) {
	lk := unix.Flock_t{Type: unix.F_WRLCK, Whence: 0, Start: 0, Len: 0}
	err := m.control(func(fd int) error { return unix.FcntlFlock(uintptr(fd), unix.F_OFD_GETLK, &lk) })
	if err != nil {
		return false, err
	}
	return lk.Type != unix.F_UNLCK, nil
}

// stale says how the page file no longer matches m ("" when it does): it
// shrank or grew, or another file is at path now. One fstat, one stat.
func (m *mapping) stale(path string) string {
	if m.isDetached() {
		return "could not be mapped"
	}
	var st unix.Stat_t
	err := m.control(func(fd int) error { return unix.Fstat(fd, &st) })
	switch {
	case errors.Is(err, errRetired):
		return ""
	case err != nil:
		return fmt.Sprintf("cannot be checked (%v)", err)
	case st.Size != PageSize:
		return fmt.Sprintf("is %d bytes, not %d", st.Size, PageSize)
	}
	if err := unix.Stat(path, &st); err != nil {
		return fmt.Sprintf("is gone (%v)", err)
	}
	if st.Dev != m.dev || st.Ino != m.ino {
		return "was replaced by another file"
	}
	return ""
}

// closeFile closes the page file once; the mapping stays.
func (m *mapping) closeFile() error {
	if m.isDetached() || m.gone.Swap(true) {
		return nil
	}
	return m.file.Close()
}

// close unmaps the page and closes the file.
func (m *mapping) close() error {
	err := m.closeFile()
	if m.mem != nil {
		err = errors.Join(err, m.mem.Unmap())
	}
	return err
}

// OnRemap sets a function told, in a sentence, each time this Flag maps
// its page again because the page shrank, was replaced or was rebuilt
// (the daemon logs it). It is called with the Flag's lock held: it must
// not call the Flag.
func (f *Flag) OnRemap(fn func(note string)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.onRemap = fn
}

// Check verifies, off the fast path, that this Flag still maps the whole
// page now at its path (one fstat, one stat). A page that shrank or was
// replaced is mapped again — rebuilt when broken — and note says what
// happened (OnRemap hears it too). err is set when the page cannot be
// mapped again; until it can, this Flag sees no restore in progress.
func (f *Flag) Check() (note string, err error) {
	m := f.cur.Load()
	why := m.stale(f.path)
	if why == "" {
		return "", nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.remapLocked(m, why)
}

// remap maps the page again in place of m, whose page faulted or went
// stale (why), unless another goroutine has done so already.
func (f *Flag) remap(m *mapping, why string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, _ = f.remapLocked(m, why)
}

// whyFault is why a mapping is replaced after a fault.
const whyFault = "shrank under its mapping (access faulted)"

// remapLocked is remap with f.mu held. A mapping that carries this Flag's
// lease keeps its file open until Release.
func (f *Flag) remapLocked(m *mapping, why string) (string, error) {
	if f.closed || f.cur.Load() != m {
		return "", nil
	}
	nm, rebuilt, err := mapPage(f.dir)
	var note string
	if err != nil {
		nm = detached()
		note = fmt.Sprintf("restore flag %s %s and cannot be mapped again: %v; until it can, no restore is seen in progress", f.path, why, err)
		err = fmt.Errorf("map restore flag %s again: %w", f.path, err)
	} else {
		note = fmt.Sprintf("restore flag %s %s; mapped it again", f.path, why)
		if rebuilt != "" {
			note += " (" + rebuilt + ")"
		}
	}
	f.cur.Store(nm)
	if !m.isDetached() {
		f.retired = append(f.retired, m)
	}
	if m != f.held {
		m.closeFile()
	}
	if f.onRemap != nil {
		f.onRemap(note)
	}
	return note, err
}

// usableLocked returns the current mapping, first trying to map the page
// file again when it is detached. f.mu is held.
func (f *Flag) usableLocked() (*mapping, error) {
	m := f.cur.Load()
	if !m.isDetached() {
		return m, nil
	}
	if _, err := f.remapLocked(m, "could not be mapped"); err != nil {
		return nil, err
	}
	return f.cur.Load(), nil
}
