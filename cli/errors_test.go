package cli

import (
	"errors"
	"fmt"
	"testing"

	"opm/daemon/api"
)

func TestExitCode(t *testing.T) {
	tests := []struct {
		err  error
		want int
	}{
		{nil, 0},
		{errors.New("boom"), 1},
		{usageErrorf("bad"), 2},
		{failuref("down"), 1},
		{api.Errorf(api.CodeNotFound, "no app"), 2},
		{fmt.Errorf("wrapped: %w", api.Errorf(api.CodeBadRequest, "bad")), 2},
		{api.Errorf(api.CodeConflict, "dup"), 1},
		{api.Errorf(api.CodeForbidden, "uid"), 1},
		{explain(api.Errorf(api.CodeNotFound, "no app named \"x\"")), 2},
	}
	for _, tt := range tests {
		if got := ExitCode(tt.err); got != tt.want {
			t.Errorf("ExitCode(%v) = %d, want %d", tt.err, got, tt.want)
		}
	}
}

func TestExplainAddsOneHint(t *testing.T) {
	if got := explain(api.Errorf(api.CodeNotFound, "no app named \"x\"")).Error(); got != "no app named \"x\" (see 'opm list')" {
		t.Errorf("explain = %q", got)
	}
	if got := explain(api.Errorf(api.CodeNotFound, "no app named \"x\" (see 'opm list')")).Error(); got != "no app named \"x\" (see 'opm list')" {
		t.Errorf("explain added a second hint: %q", got)
	}
}
