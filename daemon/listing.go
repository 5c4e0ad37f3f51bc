package daemon

import (
	"encoding/json"
	"net/http"
	"reflect"
	"sync"

	"opm/daemon/api"
)

// A listing encodes every app's spec: most of the cost of its answer,
// for a part that rarely changes. specCache keeps each app's encoded
// spec (with and without its environment) while the spec is unchanged.

// specCache is the encoded specs of the apps, by id and form.
type specCache struct {
	mu sync.Mutex
	m  map[specKey]*specMemo
}

type specKey struct {
	id      int
	summary bool
}

// encoded returns *spec, app id's, as JSON: kept from an earlier listing
// while the spec is the same, encoded again otherwise (nil if it cannot
// be: the app then encodes its Spec itself).
func (c *specCache) encoded(id int, summary bool, spec *api.Spec) json.RawMessage {
	c.mu.Lock()
	defer c.mu.Unlock()
	k := specKey{id, summary}
	m := c.m[k]
	if m == nil {
		if c.m == nil {
			c.m = map[specKey]*specMemo{}
		}
		m = &specMemo{}
		c.m[k] = m
	}
	return m.encode(spec)
}

// specMemo is a spec and its JSON, kept while the spec is unchanged: the
// listings' and the runtime records' (app.spec) memory of them.
type specMemo struct {
	spec api.Spec
	json json.RawMessage
}

// encode returns *spec as JSON: m's while the spec is the same, encoded
// again otherwise (nil if it cannot be). Specs are compared through
// pointers: DeepEqual of the specs themselves would copy them to the heap.
func (m *specMemo) encode(spec *api.Spec) json.RawMessage {
	if m.json != nil && reflect.DeepEqual(&m.spec, spec) {
		return m.json
	}
	b, err := json.Marshal(spec)
	if err != nil {
		m.json = nil
		return nil
	}
	m.spec, m.json = *spec, b
	return b
}

// keepOnly forgets the apps not in apps, a listing of all of them.
func (c *specCache) keepOnly(apps []api.App) {
	ids := make(map[int]bool, len(apps))
	for _, a := range apps {
		ids[a.ID] = true
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for k := range c.m {
		if !ids[k.id] {
			delete(c.m, k)
		}
	}
}

// writeApps answers with the JSON array of apps, each app appended to
// one buffer: the array is not encoded, nor checked, a second time.
func writeApps(w http.ResponseWriter, apps []api.App) {
	buf := make([]byte, 0, 600*len(apps)+3)
	buf = append(buf, '[')
	for i := range apps {
		if i > 0 {
			buf = append(buf, ',')
		}
		var err error
		if buf, err = apps[i].AppendJSON(buf); err != nil {
			writeError(w, err)
			return
		}
	}
	buf = append(buf, "]\n"...)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(buf)
}
