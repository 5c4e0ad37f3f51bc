package cgroup

import (
	"testing"
)

func TestParseCgroup2Mount(t *testing.T) {
	tests := []struct {
		name, mountinfo string
		mount, root     string
		ok              bool
	}{
		{
			name: "hybrid",
			mountinfo: `31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
`,
			mount: "/sys/fs/cgroup/unified", root: "/", ok: true,
		},
		{
			name:      "unified, with optional fields",
			mountinfo: "30 22 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate\n",
			mount:     "/sys/fs/cgroup", root: "/", ok: true,
		},
		{
			name:      "a container's subtree, escaped space",
			mountinfo: `900 800 0:26 /docker/abc /sys/fs/my\040cgroup ro - cgroup2 cgroup2 rw` + "\n",
			mount:     "/sys/fs/my cgroup", root: "/docker/abc", ok: true,
		},
		{
			name:      "v1 only",
			mountinfo: "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n",
		},
		{name: "garbage", mountinfo: "- cgroup2\n\n1 2 3\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mount, root, ok := parseCgroup2Mount([]byte(tt.mountinfo))
			if mount != tt.mount || root != tt.root || ok != tt.ok {
				t.Errorf("got %q %q %v, want %q %q %v", mount, root, ok, tt.mount, tt.root, tt.ok)
			}
		})
	}
}

func TestParseCgroupFile(t *testing.T) {
	tests := []struct {
		name, data, want string
		ok               bool
	}{
		{"hybrid", "4:memory:/x\n1:cpu:/\n0::/\n", "/", true},
		{"unified", "0::/user.slice/opm-1a2b3c4d/app-3/run-0\n", "/user.slice/opm-1a2b3c4d/app-3/run-0", true},
		{"v1 only", "4:memory:/x\n", "", false},
		{"empty", "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := parseCgroupFile([]byte(tt.data))
			if got != tt.want || ok != tt.ok {
				t.Errorf("got %q %v, want %q %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}
