package daemon

import (
	"slices"
	"strconv"

	"opm/daemon/api"
)

// allIDs returns every app id, in order.
func (s *Supervisor) allIDs() []int {
	ids := make([]int, 0, len(s.apps))
	for id := range s.apps {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// resolve turns a target — an id, a name, a comma list of them, or "all"
// (api.ParseTarget) — into app ids, in the order given, without
// duplicates. A name gives the ids of all the app's instances, an id one.
func (s *Supervisor) resolve(target string) ([]int, error) {
	parts, err := api.ParseTarget(target)
	if err != nil {
		return nil, api.Errorf(api.CodeBadRequest, "%v", err)
	}
	var ids []int
	seen := make(map[int]bool)
	add := func(id int) {
		if !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	for _, part := range parts {
		if part == api.TargetAll {
			for _, id := range s.allIDs() {
				add(id)
			}
			continue
		}
		if s.names[part] > 0 {
			// A name names every instance of the app.
			for _, in := range s.group(part) {
				add(in.id)
			}
			continue
		}
		var a *app
		if api.IsID(part) {
			if id, err := strconv.Atoi(part); err == nil {
				a = s.apps[id]
			}
		}
		if a == nil {
			if api.IsID(part) {
				return nil, api.Errorf(api.CodeNotFound, "no app with id %s (see 'opm list')", part)
			}
			return nil, api.Errorf(api.CodeNotFound, "no app named %q (see 'opm list')", part)
		}
		add(a.id)
	}
	return ids, nil
}
