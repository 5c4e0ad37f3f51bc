package daemon

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"

	"opm/daemon/api"
)

// Fifty clients at once, mixing start, stop, restart and list, leave a
// table where every name is unique, every online app has exactly one live
// process, and no process runs outside the table.
func TestConcurrentRequestsKeepTableConsistent(t *testing.T) {
	d := startDaemon(t)
	const clients = 50
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := fmt.Sprintf("app%d", i%10)
			ctx := context.Background()
			var err error
			switch i % 5 {
			case 0, 1:
				_, err = d.startReq(d.req(name, "block"))
				if apiCode(err) == api.CodeConflict {
					err = nil
				}
			case 2:
				_, err = d.action(name, "stop")
			case 3:
				_, err = d.action(name, "restart")
			case 4:
				var apps []api.App
				err = d.cl.Do(ctx, http.MethodGet, api.PathApps, nil, &apps)
			}
			if apiCode(err) == api.CodeNotFound {
				err = nil // raced ahead of the start
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	apps := d.list()
	names, ids := map[string]bool{}, map[int]bool{}
	var pids []int
	for _, a := range apps {
		if names[a.Name] || ids[a.ID] {
			t.Errorf("name %s or id %d twice in the table", a.Name, a.ID)
		}
		names[a.Name], ids[a.ID] = true, true
		switch {
		case a.Status == api.StatusOnline:
			pids = append(pids, a.PID)
		case a.Status != api.StatusStopped || a.PID != 0:
			t.Errorf("app %s is %s with pid %d after every request returned", a.Name, a.Status, a.PID)
		}
	}
	procs := d.procs()
	slices.Sort(pids)
	slices.Sort(procs)
	if !slices.Equal(pids, procs) {
		t.Fatalf("online pids %v, live processes %v", pids, procs)
	}
}
