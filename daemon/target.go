package daemon

import (
	"slices"
	"strconv"
	"strings"

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
// — into app ids, in the order given, without duplicates.
func (s *Supervisor) resolve(target string) ([]int, error) {
	target = strings.TrimSpace(target)
	if target == "" {
		return nil, api.Errorf(api.CodeBadRequest, "no app given (name an app, an id, a comma list, or all)")
	}
	if target == "all" {
		return s.allIDs(), nil
	}
	var ids []int
	seen := make(map[int]bool)
	for _, part := range strings.Split(target, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		var a *app
		if part == "all" {
			for _, id := range s.allIDs() {
				if !seen[id] {
					seen[id] = true
					ids = append(ids, id)
				}
			}
			continue
		}
		if a = s.byName[part]; a == nil && api.IsID(part) {
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
		if !seen[a.id] {
			seen[a.id] = true
			ids = append(ids, a.id)
		}
	}
	if len(ids) == 0 && len(s.apps) > 0 {
		return nil, api.Errorf(api.CodeBadRequest, "no app given in %q (name an app, an id, a comma list, or all)", target)
	}
	return ids, nil
}
