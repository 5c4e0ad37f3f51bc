package main

import (
	"context"
	"errors"
	"time"
)

// errDeadline is returned by poll when the condition never held.
var errDeadline = errors.New("deadline passed")

// poll checks cond every interval until it reports done, returns an
// error, ctx ends or timeout passes (errDeadline). It is how the harness
// waits for state: never a fixed sleep.
func poll(ctx context.Context, timeout, every time.Duration, cond func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	for {
		done, err := cond()
		if err != nil || done {
			return err
		}
		if time.Now().After(deadline) {
			return errDeadline
		}
		if err := pause(ctx, every); err != nil {
			return err
		}
	}
}

// pause waits d or until ctx ends: a poll interval, never a wait for state.
func pause(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
