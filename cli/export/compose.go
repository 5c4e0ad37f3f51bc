package export

import (
	"bytes"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"opm/daemon/api"
)

// PlaceholderImage is the image of compose services when --image names
// none: no image holds an app of this machine, so one must be named.
const PlaceholderImage = "replace-me"

// hostVars are variables of the session that started an app that
// describe this machine, not the app: a container has its own.
var hostVars = []string{"PATH", "HOME", "HOSTNAME", "PWD", "OLDPWD", "SHLVL", "_", "TERM", "SHELL", "USER", "LOGNAME", "MAIL"}

// Compose writes the apps as a docker-compose file: a service per app
// that runs the app's command itself (entrypoint: [] leaves the image's
// out) in the image Options.Image, from the app's directory, with its
// environment (but for hostVars) and its restart policy, stop signal and
// timeout, and deploy.replicas for its instances. '$' is written "$$",
// which compose reads back as '$'.
func Compose(rows []api.App, o Options) ([]byte, error) {
	image := o.Image
	if image == "" {
		image = PlaceholderImage
	}
	services := &yaml.Node{Kind: yaml.MappingNode}
	used := map[string]bool{}
	for _, a := range group(rows) {
		svc, err := a.composeService(image, o.Image == "")
		if err != nil {
			return nil, fmt.Errorf("export app %q as a compose service: %w", a.spec.Name, err)
		}
		name := serviceName(a.spec.Name, used)
		key := str(name)
		if name != a.spec.Name {
			key.LineComment = "opm app " + a.spec.Name
		}
		if notes := a.notMapped(FormatCompose); len(notes) > 0 {
			key.HeadComment = "Not mapped (compose has no equivalent):\n" + "  - " + strings.Join(notes, "\n  - ")
		}
		services.Content = append(services.Content, key, svc)
	}
	root := &yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{str("services"), services}}
	root.HeadComment = strings.Join([]string{
		fmt.Sprintf("opm apps, exported by 'opm export --format compose' (opm %s).", o.Version),
		"Each service runs its app's command in its image, which must hold the app,",
		"its runtime and its working directory. Each says what of its app is not",
		"mapped. Nor are the variables that describe this machine, which the image",
		"has its own of: " + strings.Join(hostVars, ", ") + ".",
	}, "\n")
	return encodeYAML(root)
}

// ComposeOpmFile is where the service of ComposeOpm finds the ecosystem
// file, mounted from ./ecosystem.yaml beside the compose file.
const ComposeOpmFile = "/etc/opm/ecosystem.yaml"

// ComposeOpm writes a docker-compose file of one service, opm, that runs
// `opm run` of the apps' ecosystem file ('opm export --format yaml', which
// it mounts from ./ecosystem.yaml): opm supervises the apps in the
// container as it does here, with their instances, cron restarts, watch,
// memory limits and log files. Docker stops it with SIGTERM, after which
// opm stops each app within its kill timeout: the grace period is the
// longest of those, plus a margin.
func ComposeOpm(rows []api.App, o Options) ([]byte, error) {
	image := o.Image
	if image == "" {
		image = PlaceholderImage
	}
	grace := api.DefaultKillTimeout
	for _, a := range group(rows) {
		grace = max(grace, a.killTimeout())
	}
	img := quoted(dollars(image))
	if o.Image == "" {
		img.LineComment = "an image that holds opm and the apps (opm export --image IMAGE)"
	}
	svc := &yaml.Node{Kind: yaml.MappingNode}
	add := func(key string, val *yaml.Node) { svc.Content = append(svc.Content, str(key), val) }
	add("image", img)
	add("entrypoint", &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle})
	add("command", &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle, Content: []*yaml.Node{quoted("opm"), quoted("run"), quoted(ComposeOpmFile)}})
	add("volumes", &yaml.Node{Kind: yaml.SequenceNode, Content: []*yaml.Node{quoted("./ecosystem.yaml:" + ComposeOpmFile + ":ro")}})
	add("restart", quoted("on-failure"))
	add("stop_signal", str("SIGTERM"))
	add("stop_grace_period", str(composeDuration(grace+10*time.Second)))
	root := &yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{str("services"), {Kind: yaml.MappingNode, Content: []*yaml.Node{str("opm"), svc}}}}
	root.HeadComment = strings.Join([]string{
		fmt.Sprintf("opm running the apps, exported by 'opm export --format compose --compose-mode opm' (opm %s).", o.Version),
		"Write the file it runs beside this one:",
		"  opm export --format yaml > ecosystem.yaml",
		"The image holds opm (as /usr/local/bin/opm, say) and what the apps need;",
		"opm runs as its main process: 'docker logs' shows the apps' output, and",
		"'docker compose exec opm opm list' lists them.",
	}, "\n")
	return encodeYAML(root)
}

// encodeYAML writes root as a YAML document.
func encodeYAML(root *yaml.Node) ([]byte, error) {
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(&yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{root}}); err != nil {
		return nil, fmt.Errorf("encode the compose file: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encode the compose file: %w", err)
	}
	return b.Bytes(), nil
}

func (a app) composeService(image string, placeholder bool) (*yaml.Node, error) {
	s := a.spec
	svc := &yaml.Node{Kind: yaml.MappingNode}
	add := func(key string, val *yaml.Node) { svc.Content = append(svc.Content, str(key), val) }
	img := quoted(dollars(image))
	if placeholder {
		img.LineComment = "an image that holds the app (opm export --image IMAGE)"
	}
	add("image", img)
	add("entrypoint", &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle})
	cmd := &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle}
	for _, w := range s.Argv {
		if !utf8.ValidString(w) {
			return nil, fmt.Errorf("its argument %q is not UTF-8, which YAML cannot hold", w)
		}
		cmd.Content = append(cmd.Content, quoted(dollars(w)))
	}
	add("command", cmd)
	if s.Cwd != "" {
		if !utf8.ValidString(s.Cwd) {
			return nil, fmt.Errorf("its cwd %q is not UTF-8, which YAML cannot hold", s.Cwd)
		}
		add("working_dir", quoted(dollars(s.Cwd)))
	}
	env, err := a.env(false, 0)
	if err != nil {
		return nil, err
	}
	vars := &yaml.Node{Kind: yaml.MappingNode}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		if slices.Contains(hostVars, k) {
			continue
		}
		if !utf8.ValidString(k) || !utf8.ValidString(v) {
			return nil, fmt.Errorf("its environment variable %q is not UTF-8, which YAML cannot hold", strings.ToValidUTF8(k, "?"))
		}
		vars.Content = append(vars.Content, str(k), quoted(dollars(v)))
	}
	if len(vars.Content) > 0 {
		add("environment", vars)
	}
	restart := map[string]string{api.RestartAlways: "always", api.RestartOnFailure: "on-failure", api.RestartNever: "no"}[s.Restart]
	if restart == "" {
		restart = "always"
	}
	add("restart", quoted(restart))
	sig, err := a.killSignal()
	if err != nil {
		return nil, err
	}
	add("stop_signal", str(sig))
	add("stop_grace_period", str(composeDuration(a.killTimeout())))
	if a.count > 1 {
		add("deploy", &yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{str("replicas"), {Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.Itoa(a.count)}}})
	}
	return svc, nil
}

// str is a string scalar: quoted by the encoder where YAML would read it
// as something else ("1", "true").
func str(s string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s}
}

// quoted is a string scalar in double quotes: a value of the app's, which
// a YAML 1.1 reader (docker-compose 1, PyYAML) could otherwise take for
// a boolean ("yes", "no", "on").
func quoted(s string) *yaml.Node {
	n := str(s)
	n.Style = yaml.DoubleQuotedStyle
	return n
}

// dollars escapes '$' from compose's variable interpolation.
func dollars(s string) string { return strings.ReplaceAll(s, "$", "$$") }

// composeDuration is d as compose writes durations: "5s", "1500ms".
func composeDuration(d time.Duration) string {
	if d%time.Second == 0 {
		return fmt.Sprintf("%ds", d/time.Second)
	}
	return fmt.Sprintf("%dms", d/time.Millisecond)
}

// serviceChars are what a compose service name holds.
var serviceChars = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`[^a-zA-Z0-9._-]`) })

// serviceName is the app's name as a compose service name (other
// characters as '_'), unique among used.
func serviceName(name string, used map[string]bool) string {
	base := serviceChars().ReplaceAllString(name, "_")
	out := base
	for i := 2; used[out]; i++ {
		out = base + "-" + strconv.Itoa(i)
	}
	used[out] = true
	return out
}
