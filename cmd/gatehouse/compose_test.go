package main

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/joho/godotenv"

	"github.com/gatehouse/gatehouse/internal/config"
)

// The deployment files live at the repository root, two levels up.
const (
	composeFilePath     = "../../docker-compose.yml"
	composeDockerfile   = "../../Dockerfile"
	composeDockerignore = "../../.dockerignore"
)

// composeLoad loads docker-compose.yml the way Docker Compose v2 does
// (interpolation, normalisation, consistency checks, schema validation), with
// an empty environment so that nothing on the machine running the test, and
// no .env file, can change the result.
func composeLoad(t *testing.T) *types.Project {
	t.Helper()
	return composeLoadWith(t, nil)
}

// composeLoadWith is composeLoad with some variables changed from
// .env.example's values: set to the value given, or unset when it is "".
func composeLoadWith(t *testing.T, changes map[string]string) *types.Project {
	t.Helper()
	// The variables come from .env.example, as they would from the .env
	// copied from it: this also checks that it sets every one the compose
	// file requires.
	example, err := godotenv.Read(filepath.Join(filepath.Dir(composeFilePath), ".env.example"))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range changes {
		if v == "" {
			delete(example, k)
		} else {
			example[k] = v
		}
	}
	var env []string
	for k, v := range example {
		env = append(env, k+"="+v)
	}
	opts, err := cli.NewProjectOptions(
		[]string{composeFilePath},
		cli.WithName("gatehouse"),
		cli.WithEnv(env),
	)
	if err != nil {
		t.Fatalf("compose options: %v", err)
	}
	project, err := opts.LoadProject(context.Background())
	if err != nil {
		t.Fatalf("load %s: %v", composeFilePath, err)
	}
	return project
}

// composeService returns the named service or stops the test.
func composeService(t *testing.T, p *types.Project, name string) types.ServiceConfig {
	t.Helper()
	s, ok := p.Services[name]
	if !ok {
		t.Fatalf("service %q missing; have %v", name, p.ServiceNames())
	}
	return s
}

func TestComposeServices(t *testing.T) {
	t.Parallel()
	p := composeLoad(t)
	names := p.ServiceNames()
	slices.Sort(names)
	if want := []string{"app", "mailpit", "mongo", "redis"}; !slices.Equal(names, want) {
		t.Errorf("services: got %v, want %v", names, want)
	}
}

func TestComposeAppBuild(t *testing.T) {
	t.Parallel()
	p := composeLoad(t)
	app := composeService(t, p, "app")

	if app.Build == nil {
		t.Fatal("app: no build section")
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	// The loader resolves the context to an absolute path and fills in the
	// default Dockerfile name.
	if got := filepath.Clean(app.Build.Context); got != root {
		t.Errorf("app build context: got %q, want %q", got, root)
	}
	if got, want := app.Build.Dockerfile, "Dockerfile"; got != want {
		t.Errorf("app build dockerfile: got %q, want %q", got, want)
	}
	// The tag people expect of an image they build and run.
	if got, want := app.Image, "gatehouse:latest"; got != want {
		t.Errorf("app image: got %q, want %q", got, want)
	}
}

// TestComposeAppPort: the host port is GATEHOUSE_PORT, 8080 when unset;
// the app listens on 8080 in its container whatever it is.
func TestComposeAppPort(t *testing.T) {
	t.Parallel()
	tests := []struct {
		port string // GATEHOUSE_PORT; "" unsets it
		want string
	}{
		{"", "8080"},
		{"9000", "9000"},
	}
	for _, tt := range tests {
		ports := composeService(t, composeLoadWith(t, map[string]string{"GATEHOUSE_PORT": tt.port}), "app").Ports
		if len(ports) != 1 || ports[0].Target != 8080 || ports[0].Published != tt.want {
			t.Errorf("GATEHOUSE_PORT=%q: got ports %+v, want %s published to 8080", tt.port, ports, tt.want)
		}
	}
	// .env.example names the variable, with the default.
	if ports := composeService(t, composeLoad(t), "app").Ports; len(ports) != 1 || ports[0].Published != "8080" {
		t.Errorf("with .env.example: got %+v, want 8080", ports)
	}
	example, err := godotenv.Read(filepath.Join(filepath.Dir(composeFilePath), ".env.example"))
	if err != nil || example["GATEHOUSE_PORT"] != "8080" {
		t.Errorf(".env.example: GATEHOUSE_PORT=%q, %v; want 8080", example["GATEHOUSE_PORT"], err)
	}
}

// TestComposeStopGracePeriod: after SIGTERM the app answers 503 on
// /readyz for SHUTDOWN_DRAIN, then waits up to SHUTDOWN_TIMEOUT for
// requests in flight, then closes its pools; Docker's SIGKILL must come
// after all that (its default, 10s, came before the end of the timeout).
func TestComposeStopGracePeriod(t *testing.T) {
	t.Parallel()
	app := composeService(t, composeLoad(t), "app")
	cfg, err := config.Load(func(k string) string {
		if v := app.Environment[k]; v != nil {
			return *v
		}
		return ""
	})
	if err != nil {
		t.Fatalf("the app's compose environment: %v", err)
	}
	need := cfg.ShutdownDrain + cfg.ShutdownTimeout
	if app.StopGracePeriod == nil || time.Duration(*app.StopGracePeriod) <= need {
		t.Errorf("app stop_grace_period: got %v, want more than SHUTDOWN_DRAIN + SHUTDOWN_TIMEOUT = %s + %s",
			app.StopGracePeriod, config.FormatDuration(cfg.ShutdownDrain), config.FormatDuration(cfg.ShutdownTimeout))
	}
}

func TestComposeAppDependsOnHealthy(t *testing.T) {
	t.Parallel()
	p := composeLoad(t)
	app := composeService(t, p, "app")

	for _, dep := range []string{"redis", "mongo"} {
		d, ok := app.DependsOn[dep]
		if !ok {
			t.Errorf("app depends_on %s: missing", dep)
			continue
		}
		if got, want := d.Condition, types.ServiceConditionHealthy; got != want {
			t.Errorf("app depends_on %s condition: got %q, want %q", dep, got, want)
		}
	}
}

func TestComposeAppEnvironment(t *testing.T) {
	t.Parallel()
	p := composeLoad(t)
	env := composeService(t, p, "app").Environment

	tests := []struct {
		key  string
		want string
	}{
		{"APP_ENV", "production"},
		{"PORT", "8080"},
		{"REDIS_URL", "redis://:dev-redis-password-change-me@redis:6379/0"},
		{"MONGO_URI", "mongodb://gatehouse:dev-mongo-password-change-me@mongo:27017/?authSource=admin"},
		{"MONGO_DB", "gatehouse"},
		{"SMTP_URL", "smtp://mailpit:1025?starttls=opportunistic"},
		{"PUBLIC_URL", "http://localhost:8080"},
	}
	for _, tt := range tests {
		v, ok := env[tt.key]
		switch {
		case !ok:
			t.Errorf("app environment %s: missing", tt.key)
		case v == nil:
			// A bare key is taken from the host's environment at run time.
			t.Errorf("app environment %s: no value, want %q", tt.key, tt.want)
		case *v != tt.want:
			t.Errorf("app environment %s: got %q, want %q", tt.key, *v, tt.want)
		}
	}
}

func TestComposeAppHardening(t *testing.T) {
	t.Parallel()
	p := composeLoad(t)
	app := composeService(t, p, "app")

	if !app.ReadOnly {
		t.Error("app read_only: got false, want true")
	}
	if want := "no-new-privileges:true"; !slices.Contains(app.SecurityOpt, want) {
		t.Errorf("app security_opt: got %v, want it to contain %q", app.SecurityOpt, want)
	}
	if got, want := app.Restart, "unless-stopped"; got != want {
		t.Errorf("app restart: got %q, want %q", got, want)
	}
}

func TestComposeHealthchecks(t *testing.T) {
	t.Parallel()
	p := composeLoad(t)

	// Exec form ("CMD") throughout: the app's distroless image has no shell.
	tests := []struct {
		service string
		want    []string
	}{
		{"app", []string{"CMD", "/gatehouse", "healthcheck"}},
		{"redis", []string{"CMD", "redis-cli", "ping"}},
		{"mongo", []string{"CMD", "mongosh", "--quiet", "--eval", "db.adminCommand('ping').ok"}},
	}
	for _, tt := range tests {
		t.Run(tt.service, func(t *testing.T) {
			hc := composeService(t, p, tt.service).HealthCheck
			if hc == nil {
				t.Fatal("no healthcheck")
			}
			if hc.Disable {
				t.Error("healthcheck disabled")
			}
			if got := []string(hc.Test); !slices.Equal(got, tt.want) {
				t.Errorf("healthcheck test: got %q, want %q", got, tt.want)
			}
			if hc.Interval == nil || hc.Timeout == nil || hc.Retries == nil {
				t.Errorf("healthcheck interval/timeout/retries: got %v/%v/%v, want all set",
					hc.Interval, hc.Timeout, hc.Retries)
			}
		})
	}
}

func TestComposeDataServices(t *testing.T) {
	t.Parallel()
	p := composeLoad(t)

	tests := []struct {
		service string
		image   string
		volume  string
		target  string
	}{
		{"redis", "redis:7", "redis-data", "/data"},
		{"mongo", "mongo:7", "mongo-data", "/data/db"},
	}
	for _, tt := range tests {
		t.Run(tt.service, func(t *testing.T) {
			s := composeService(t, p, tt.service)

			if s.Image != tt.image {
				t.Errorf("image: got %q, want %q", s.Image, tt.image)
			}

			// A named volume, declared at the top level, mounted on the data
			// directory: a bind mount or an anonymous volume would not survive
			// `docker compose down` the same way.
			if _, ok := p.Volumes[tt.volume]; !ok {
				t.Errorf("top-level volume %q: missing", tt.volume)
			}
			i := slices.IndexFunc(s.Volumes, func(v types.ServiceVolumeConfig) bool {
				return v.Target == tt.target
			})
			if i < 0 {
				t.Fatalf("no volume mounted on %s; have %+v", tt.target, s.Volumes)
			}
			v := s.Volumes[i]
			if v.Type != types.VolumeTypeVolume || v.Source != tt.volume {
				t.Errorf("mount on %s: got %s %q, want %s %q",
					tt.target, v.Type, v.Source, types.VolumeTypeVolume, tt.volume)
			}

			// Data stores stay on the compose network, or loopback at most.
			for _, port := range s.Ports {
				if port.Published != "" && port.HostIP != "127.0.0.1" {
					t.Errorf("port %d published on %q, want none or 127.0.0.1",
						port.Target, port.HostIP)
				}
			}
		})
	}
}

// TestComposeAuthentication: Redis and MongoDB require a password even on
// the compose network, taken from the .env file.
func TestComposeAuthentication(t *testing.T) {
	t.Parallel()
	p := composeLoad(t)
	redisCmd := []string(composeService(t, p, "redis").Command)
	if i := slices.Index(redisCmd, "--requirepass"); i < 0 || i+1 >= len(redisCmd) || redisCmd[i+1] != "dev-redis-password-change-me" {
		t.Errorf("redis command: got %q, want --requirepass with REDIS_PASSWORD", redisCmd)
	}
	if v := composeService(t, p, "redis").Environment["REDISCLI_AUTH"]; v == nil || *v != "dev-redis-password-change-me" {
		t.Error("redis: the healthcheck's redis-cli has no password (REDISCLI_AUTH)")
	}
	mongoEnv := composeService(t, p, "mongo").Environment
	for k, want := range map[string]string{"MONGO_INITDB_ROOT_USERNAME": "gatehouse", "MONGO_INITDB_ROOT_PASSWORD": "dev-mongo-password-change-me"} {
		if v := mongoEnv[k]; v == nil || *v != want {
			t.Errorf("mongo %s: got %v, want %q", k, v, want)
		}
	}
	// Without the passwords, compose refuses to start rather than run
	// the stores open.
	opts, err := cli.NewProjectOptions([]string{composeFilePath}, cli.WithName("gatehouse"), cli.WithEnv(nil))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := opts.LoadProject(context.Background()); err == nil || !strings.Contains(err.Error(), "REDIS_PASSWORD") {
		t.Errorf("compose without REDIS_PASSWORD: got %v, want an error naming it", err)
	}
}

func TestComposeRedisPersistence(t *testing.T) {
	t.Parallel()
	p := composeLoad(t)
	cmd := []string(composeService(t, p, "redis").Command)

	// Sessions must survive a Redis restart: append-only file on.
	i := slices.Index(cmd, "--appendonly")
	if i < 0 || i+1 >= len(cmd) || cmd[i+1] != "yes" {
		t.Errorf("redis command: got %q, want it to contain \"--appendonly\" \"yes\"", cmd)
	}
}

// composeInstruction is one Dockerfile instruction, continuation lines joined.
type composeInstruction struct {
	cmd  string // upper case: FROM, RUN, USER, ...
	args string
}

// composeStage is one build stage: its FROM arguments and its instructions.
type composeStage struct {
	from         string
	instructions []composeInstruction
}

// composeParseDockerfile splits a Dockerfile into stages. It understands
// comments and backslash continuations, which is all this repository's
// Dockerfile uses; heredocs and escape directives are not supported.
func composeParseDockerfile(t *testing.T, path string) []composeStage {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()

	var (
		stages  []composeStage
		pending strings.Builder
	)
	flush := func() {
		line := strings.TrimSpace(pending.String())
		pending.Reset()
		if line == "" {
			return
		}
		cmd, args, _ := strings.Cut(line, " ")
		in := composeInstruction{cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args)}
		if in.cmd == "FROM" {
			stages = append(stages, composeStage{from: in.args})
			return
		}
		if len(stages) == 0 {
			if in.cmd != "ARG" {
				t.Errorf("%s: %s before the first FROM", path, in.cmd)
			}
			return
		}
		last := &stages[len(stages)-1]
		last.instructions = append(last.instructions, in)
	}

	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "#") {
			continue
		}
		if body, ok := strings.CutSuffix(line, `\`); ok {
			pending.WriteString(body)
			pending.WriteString(" ")
			continue
		}
		pending.WriteString(line)
		flush()
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	flush()
	return stages
}

// composeFind returns the arguments of every instruction of kind cmd.
func composeFind(s composeStage, cmd string) []string {
	var out []string
	for _, in := range s.instructions {
		if in.cmd == cmd {
			out = append(out, in.args)
		}
	}
	return out
}

func TestDockerfile(t *testing.T) {
	t.Parallel()
	stages := composeParseDockerfile(t, composeDockerfile)
	if len(stages) < 2 {
		t.Fatalf("stages: got %d, want at least 2 (build and runtime)", len(stages))
	}
	final := stages[len(stages)-1]

	// The go build line: static, no build tags (the dev-only embedded
	// servers sit behind the `dev` tag), builds the real command.
	var builds []string
	for _, s := range stages[:len(stages)-1] {
		for _, run := range composeFind(s, "RUN") {
			if strings.Contains(run, "go build") {
				builds = append(builds, run)
			}
		}
	}
	if len(builds) != 1 {
		t.Fatalf("go build lines in the build stages: got %d %q, want 1", len(builds), builds)
	}
	build := strings.Fields(builds[0])
	var binary string
	for i, f := range build {
		if f == "-tags" || f == "--tags" || strings.HasPrefix(f, "-tags=") || strings.HasPrefix(f, "--tags=") {
			t.Errorf("go build uses build tags: %q", builds[0])
		}
		if f == "-o" && i+1 < len(build) {
			binary = build[i+1]
		}
	}
	for _, want := range []string{"CGO_ENABLED=0", "./cmd/gatehouse"} {
		if !slices.Contains(build, want) {
			t.Errorf("go build line %q: want %s", builds[0], want)
		}
	}
	if binary == "" {
		t.Fatalf("go build line %q: no -o output", builds[0])
	}

	// The final stage runs as a non-root user; the last USER wins.
	users := composeFind(final, "USER")
	if len(users) == 0 {
		t.Error("final stage: no USER, so it runs as root")
	} else {
		name, _, _ := strings.Cut(users[len(users)-1], ":")
		if name == "root" || name == "0" {
			t.Errorf("final stage USER: got %q, want a non-root user", users[len(users)-1])
		}
	}

	// The binary is copied from the build stage and is the entrypoint.
	var installed string
	for _, cp := range composeFind(final, "COPY") {
		f := strings.Fields(cp)
		if len(f) == 3 && strings.HasPrefix(f[0], "--from=") && f[1] == binary {
			installed = f[2]
		}
	}
	if installed == "" {
		t.Fatalf("final stage: no COPY --from=... %s", binary)
	}
	entry := composeFind(final, "ENTRYPOINT")
	if len(entry) != 1 {
		t.Fatalf("final stage ENTRYPOINT: got %q, want exactly one", entry)
	}
	var argv []string
	if err := json.Unmarshal([]byte(entry[0]), &argv); err != nil {
		// Shell form would need /bin/sh, which the runtime image lacks.
		t.Fatalf("ENTRYPOINT %s: want exec (JSON) form: %v", entry[0], err)
	}
	if len(argv) == 0 || argv[0] != installed {
		t.Errorf("ENTRYPOINT: got %q, want [%q]", argv, installed)
	}

	// The compose healthcheck runs the same binary.
	var probe []string
	if hc := composeService(t, composeLoad(t), "app").HealthCheck; hc != nil {
		probe = hc.Test
	}
	if len(probe) < 2 || probe[1] != installed {
		t.Errorf("app healthcheck: got %q, want it to run %s", probe, installed)
	}
}

// TestDockerfileGoVersion: the build stage's Go is the go.mod's, exactly.
// The golang images set GOTOOLCHAIN=local, so an older one refuses to
// build, and a newer or floating one (golang:1.26) builds with another Go
// than the tests ran with.
func TestDockerfileGoVersion(t *testing.T) {
	t.Parallel()
	mod, err := os.ReadFile("../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	var want string
	for line := range strings.Lines(string(mod)) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "go "); ok {
			want = strings.TrimSpace(v)
		}
	}
	if want == "" {
		t.Fatal("go.mod: no go line")
	}
	var images []string
	for _, s := range composeParseDockerfile(t, composeDockerfile) {
		f := slices.DeleteFunc(strings.Fields(s.from), func(f string) bool { return strings.HasPrefix(f, "--") })
		if len(f) > 0 && strings.HasPrefix(f[0], "golang:") {
			images = append(images, f[0])
		}
	}
	if len(images) == 0 {
		t.Fatal("Dockerfile: no golang image")
	}
	for _, image := range images {
		tag := strings.TrimPrefix(image, "golang:")
		if v, _, _ := strings.Cut(tag, "-"); v != want {
			t.Errorf("Dockerfile FROM %s: Go %s, want go.mod's %s", image, v, want)
		}
	}
}

// TestDockerfileDownloadsOnlyWhatTheBinaryNeeds: the build stage does not
// run a bare `go mod download`, which fetches every module in go.mod
// (FerretDB, chromedp and compose-go among them); go build fetches only
// the modules of the packages it compiles, into a cache mount that the
// next build reuses.
func TestDockerfileDownloadsOnlyWhatTheBinaryNeeds(t *testing.T) {
	t.Parallel()
	stages := composeParseDockerfile(t, composeDockerfile)
	var build string
	for _, s := range stages[:len(stages)-1] {
		for _, run := range composeFind(s, "RUN") {
			f := strings.Fields(run)
			if i := slices.Index(f, "download"); i > 0 && f[i-1] == "mod" && (i+1 == len(f) || strings.HasPrefix(f[i+1], "-") || f[i+1] == "&&") {
				t.Errorf("Dockerfile: RUN %s downloads every module in go.mod", run)
			}
			if strings.Contains(run, "go build") {
				build = run
			}
		}
	}
	if !strings.Contains(build, "--mount=type=cache,target=/go/pkg/mod") {
		t.Errorf("Dockerfile: go build without a cache mount on /go/pkg/mod (GOMODCACHE): %s", build)
	}

	// And the modules it needs leave out those that only the tests and
	// the dev build use.
	cmd := exec.Command("go", "list", "-deps", "-f", "{{with .Module}}{{.Path}}{{end}}", ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0") // as the Dockerfile builds it
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	needed := strings.Fields(string(out))
	for _, m := range []string{"github.com/FerretDB/FerretDB", "github.com/chromedp/chromedp", "github.com/compose-spec/compose-go/v2", "github.com/alicebob/miniredis/v2"} {
		if slices.Contains(needed, m) {
			t.Errorf("the production binary needs %s", m)
		}
	}
}

func TestDockerignore(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile(composeDockerignore)
	if err != nil {
		t.Fatal(err)
	}
	var patterns []string
	for line := range strings.Lines(string(b)) {
		line = strings.TrimSpace(line)
		if line != "" && !strings.HasPrefix(line, "#") {
			patterns = append(patterns, strings.TrimSuffix(line, "/"))
		}
	}
	// Secrets, history and local data must not reach the build context.
	for _, want := range []string{".git", ".env", "data", "bin", "node_modules", "*.test"} {
		if !slices.Contains(patterns, want) {
			t.Errorf(".dockerignore: %q missing; have %q", want, patterns)
		}
	}
}

// TestComposeMailpit: Mailpit catches the app's mail, and shows it on port
// 8025 of the host's loopback only (it shows every reset link).
func TestComposeMailpit(t *testing.T) {
	t.Parallel()
	s := composeService(t, composeLoad(t), "mailpit")
	if s.Image != "axllent/mailpit" {
		t.Errorf("mailpit image: got %q", s.Image)
	}
	if len(s.Ports) != 1 || s.Ports[0].Target != 8025 || s.Ports[0].Published != "8025" || s.Ports[0].HostIP != "127.0.0.1" {
		t.Errorf("mailpit ports: got %+v, want 127.0.0.1:8025:8025", s.Ports)
	}
}
