package daemon

import (
	"context"
	"testing"

	"opm/daemon/api"
)

// The daemon's status names its apps, directories and version.
func TestStatus(t *testing.T) {
	d := startDaemon(t)
	if st, err := d.cl.Ping(context.Background()); err != nil || st.Apps != 0 {
		t.Fatalf("status of a new daemon = %+v, %v; want no apps", st, err)
	}
	d.start("x", "block")
	st, err := d.cl.Ping(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.Apps != 1 || st.RuntimeDir != d.rt || st.Home != d.home || st.Version != api.Version || st.Restore.InProgress {
		t.Fatalf("status = %+v", st)
	}
}
